"""Worker liveness in Redis: each worker process refreshes its entry in one sorted set.

The API's health document counts the live entries; ``folio-worker healthcheck`` checks
this host's. An entry older than :data:`ALIVE_WINDOW_S` belongs to a dead worker.
"""

from __future__ import annotations

import time

import redis

from .redis_client import key
from .settings import Settings

#: A worker not seen for this long is counted as dead.
ALIVE_WINDOW_S = 30.0


def _workers_key(settings: Settings) -> str:
    return key(settings, "workers")


def beat(client: redis.Redis, settings: Settings, worker_id: str) -> None:
    """Record that ``worker_id`` (``host:pid``) is alive now; prune long-dead entries."""
    now = time.time()
    pipe = client.pipeline()
    pipe.zadd(_workers_key(settings), {worker_id: now})
    pipe.zremrangebyscore(_workers_key(settings), "-inf", now - 10 * ALIVE_WINDOW_S)
    pipe.execute()


def forget(client: redis.Redis, settings: Settings, worker_id: str) -> None:
    client.zrem(_workers_key(settings), worker_id)


def alive(client: redis.Redis, settings: Settings, prefix: str = "") -> list[str]:
    """Ids of workers seen within the window, optionally only those starting with ``prefix``."""
    members = client.zrangebyscore(_workers_key(settings), time.time() - ALIVE_WINDOW_S, "+inf")
    ids = [m.decode() if isinstance(m, bytes) else str(m) for m in members]
    return [i for i in ids if i.startswith(prefix)]
