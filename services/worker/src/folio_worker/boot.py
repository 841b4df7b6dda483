"""The module Dramatiq loads first in each worker process: ``dramatiq folio_worker.boot …``.

It starts the process (:func:`folio_common.bootstrap.start_process`: settings, logging,
redaction, excepthook) and sets the global broker *before* any actor module is imported,
so no actor can bind to Dramatiq's default broker. It connects to nothing and starts no
thread: the broker's Redis client connects on first use, and the rest of the runtime is
built when the process boots (:class:`.middleware.WorkerProcess`).
"""

from __future__ import annotations

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import CurrentMessage, Middleware, Retries, default_middleware
from folio_common.bootstrap import start_process
from folio_common.broker import create_broker
from folio_common.redis_client import create_redis
from folio_common.settings import Settings

from .middleware import Heartbeat, LogContext, Sweeping, WorkerProcess
from .schema_guard import SchemaGuard

#: Retries of a message after a transient error (a database or Redis outage). The job's
#: own attempts are bounded separately by MAX_ATTEMPTS, enforced at claim and by the sweeper.
MESSAGE_MAX_RETRIES = 6
MIN_BACKOFF_MS = 1_000
MAX_BACKOFF_MS = 60_000


def worker_middleware(settings: Settings) -> list[Middleware]:
    """Dramatiq's defaults with Folio's retry policy, then Folio's own, in hook order:
    the runtime is built first (``after_process_boot``); the schema guard decides before
    any worker thread takes a message; at shutdown the sandboxes are closed last."""
    middleware = [m() for m in default_middleware if m is not Retries]
    guard = SchemaGuard()
    return [
        *middleware,
        Retries(
            max_retries=MESSAGE_MAX_RETRIES, min_backoff=MIN_BACKOFF_MS, max_backoff=MAX_BACKOFF_MS
        ),
        CurrentMessage(),
        LogContext(),
        Heartbeat(),
        Sweeping(ready=guard.is_open),
        WorkerProcess(settings),
        guard,
    ]


def worker_broker(settings: Settings) -> RedisBroker:
    """The worker's broker (its Redis client is the one the runtime uses)."""
    return create_broker(settings, create_redis(settings), worker_middleware(settings))


settings = start_process("worker")
broker = worker_broker(settings)
dramatiq.set_broker(broker)
