"""Job completion events over Redis pub/sub, so long-polls wait without a database connection.

Publishing is best effort: a waiter that misses an event (Redis down) still re-reads the
job when its wait ends, and waits in short slices so it notices within a second.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

import redis
import structlog

from .redis_client import key
from .settings import Settings

log = structlog.stdlib.get_logger("folio.notify")


def channel(settings: Settings, job_id: str) -> str:
    return key(settings, "job-done", job_id)


def publish_done(client: redis.Redis, settings: Settings, job_id: str, status: str) -> None:
    try:
        client.publish(channel(settings, job_id), status)
    except redis.RedisError as exc:
        log.warning("could not publish job completion", job_id=job_id, error=type(exc).__name__)


class DoneListener:
    """Subscribe *before* reading the job, then wait: no completion can slip in between."""

    def __init__(self, client: redis.Redis, settings: Settings, job_id: str) -> None:
        self._pubsub: Any = None
        try:
            self._pubsub = client.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
            self._pubsub.subscribe(channel(settings, job_id))
        except redis.RedisError:
            self._pubsub = None

    def wait(self, timeout_s: float) -> bool:
        """True when a completion arrived; False on timeout (or Redis trouble: poll again)."""
        deadline = time.monotonic() + timeout_s
        while (remaining := deadline - time.monotonic()) > 0:
            if self._pubsub is None:
                time.sleep(min(remaining, 0.5))
                return False
            try:
                message = self._pubsub.get_message(timeout=min(remaining, 1.0))
            except redis.RedisError:
                self.close()
                continue
            if message is not None:
                return True
        return False

    def close(self) -> None:
        if self._pubsub is not None:
            with contextlib.suppress(redis.RedisError):
                self._pubsub.close()
            self._pubsub = None

    def __enter__(self) -> DoneListener:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
