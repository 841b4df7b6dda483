"""Figures each worker process reports about itself, kept in one Redis hash.

A worker's liveness beat (see :mod:`.workers`) also writes a small JSON document under
its id: memory, pages per second, and job durations per engine (computed by
``folio_worker.stats``). The API reads the documents of live workers for its metrics;
the writer drops entries of workers that are no longer alive.
"""

from __future__ import annotations

import json
from typing import Any

import redis

from . import workers
from .redis_client import key
from .settings import Settings


def _stats_key(settings: Settings) -> str:
    return key(settings, "worker-stats")


def publish(client: redis.Redis, settings: Settings, worker_id: str, doc: dict[str, Any]) -> None:
    """Store ``worker_id``'s document, and forget those of workers no longer alive."""
    client.hset(_stats_key(settings), worker_id, json.dumps(doc, separators=(",", ":")))
    alive = set(workers.alive(client, settings)) | {worker_id}
    gone = [w for w in _decoded(client.hkeys(_stats_key(settings))) if w not in alive]
    if gone:
        client.hdel(_stats_key(settings), *gone)


def forget(client: redis.Redis, settings: Settings, worker_id: str) -> None:
    client.hdel(_stats_key(settings), worker_id)


def read(client: redis.Redis, settings: Settings) -> dict[str, dict[str, Any]]:
    """{worker id: document} of the workers alive now."""
    alive = set(workers.alive(client, settings))
    found: dict[str, dict[str, Any]] = {}
    for raw_id, raw_doc in client.hgetall(_stats_key(settings)).items():
        worker_id = raw_id.decode() if isinstance(raw_id, bytes) else str(raw_id)
        if worker_id in alive:
            try:
                found[worker_id] = json.loads(raw_doc)
            except ValueError:
                continue
    return found


def _decoded(values: Any) -> list[str]:
    return [v.decode() if isinstance(v, bytes) else str(v) for v in values]
