"""Everything a worker process holds: settings, database, Redis, broker, blobs, sandboxes.

Built once per worker process (Dramatiq imports the broker module in each process after
it forks, so no connection is ever shared across a fork).
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field

import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import CurrentMessage, Retries, default_middleware
from folio_common.blobs import PostgresBlobStore
from folio_common.broker import create_broker
from folio_common.database import Database
from folio_common.redis_client import create_redis
from folio_common.settings import Settings
from folio_common.sweeper import Sweeper

from .sandbox import SandboxPool
from .stats import WorkerStats

#: Retries of a message after a transient error (a database or Redis outage). The job's
#: own attempts are bounded separately by MAX_ATTEMPTS, enforced at claim and by the sweeper.
MESSAGE_MAX_RETRIES = 6
MIN_BACKOFF_MS = 1_000
MAX_BACKOFF_MS = 60_000


@dataclass
class Runtime:
    settings: Settings
    db: Database
    redis: redis.Redis
    broker: RedisBroker
    blobs: PostgresBlobStore
    sandboxes: SandboxPool
    worker_id: str
    stats: WorkerStats = field(default_factory=WorkerStats)

    def sweeper(self) -> Sweeper:
        return Sweeper(self.db, self.blobs, self.redis, self.broker, self.settings)


def build_runtime(settings: Settings) -> Runtime:
    from .middleware import Liveness, LogContext
    from .schema_guard import SchemaGuard

    client = create_redis(settings)
    middleware = [m() for m in default_middleware if m is not Retries]
    middleware += [
        Retries(
            max_retries=MESSAGE_MAX_RETRIES, min_backoff=MIN_BACKOFF_MS, max_backoff=MAX_BACKOFF_MS
        ),
        CurrentMessage(),
        LogContext(),
    ]
    broker = create_broker(settings, client, middleware)
    runtime = Runtime(
        settings=settings,
        db=Database.from_settings(settings, application_name="folio-worker"),
        redis=client,
        broker=broker,
        blobs=PostgresBlobStore(),
        sandboxes=SandboxPool(
            settings.job_memory_limit_mb, settings.job_time_limit_s, settings.sandbox_max_tasks
        ),
        worker_id=f"{socket.gethostname()}:{os.getpid()}",
    )
    broker.add_middleware(Liveness(runtime))
    broker.add_middleware(SchemaGuard(runtime))
    return runtime
