"""Everything a worker process holds: settings, database, Redis, broker, blobs, sandboxes.

Built once per worker process when it boots (:class:`.middleware.WorkerProcess`, on
Dramatiq's ``after_process_boot``), never at import: the process exists by then, so no
connection is ever shared across a fork, and importing the actors connects to nothing.
Actors and middleware reach it through :func:`current_runtime`, the one accessor.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from functools import cached_property

import redis
from dramatiq.brokers.redis import RedisBroker
from folio_common.blobs import PostgresBlobStore
from folio_common.connections import Connections, Role
from folio_common.database import Database
from folio_common.lifecycle.runner import Lifecycle
from folio_common.settings import Settings
from folio_common.sweeper import Sweeper

from .counters import WorkerCounters
from .sandbox import SandboxPool
from .sources import SourceCache


@dataclass
class Runtime:
    """A worker process's connections, sandboxes and counters.

    Parameters:
      worker_id: ``host:pid``, this process's name in liveness entries and metrics.
      stats: the counters :mod:`.pipeline` feeds and the heartbeat publishes.
      sources: split jobs' sources, downloaded once per process for all their parts.
    """

    settings: Settings
    db: Database
    redis: redis.Redis
    broker: RedisBroker
    blobs: PostgresBlobStore
    sandboxes: SandboxPool
    worker_id: str
    stats: WorkerCounters = field(default_factory=WorkerCounters)
    sources: SourceCache = field(default_factory=SourceCache)

    @cached_property
    def lifecycle(self) -> Lifecycle:
        """Job transitions over this process's connections."""
        return Lifecycle(self.db, self.redis, self.broker, self.settings)

    def sweeper(self) -> Sweeper:
        return Sweeper(self.lifecycle, self.blobs)


def build_runtime(settings: Settings, broker: RedisBroker) -> Runtime:
    """The runtime of this worker process, over ``broker`` and its Redis client. Opens no
    connection and starts no sandbox: first use does, or the boot's warm-up."""
    conns = Connections.for_role(settings, Role.WORKER, broker=broker)
    return Runtime(
        settings=settings,
        db=conns.db,
        redis=conns.redis,
        broker=conns.broker,
        blobs=conns.blobs,
        sandboxes=SandboxPool(
            settings.job_memory_limit_mb, settings.job_time_limit_s, settings.sandbox_max_tasks
        ),
        worker_id=f"{socket.gethostname()}:{os.getpid()}",
    )


class _Installed:
    """The runtime of this process, once it booted."""

    runtime: Runtime | None = None


def install_runtime(runtime: Runtime) -> None:
    """Make ``runtime`` this process's (called once, when the worker process boots)."""
    _Installed.runtime = runtime


def current_runtime() -> Runtime:
    """This worker process's runtime; raises if the process has not booted through
    :mod:`folio_worker.boot` (an actor called outside a worker process)."""
    if _Installed.runtime is None:
        raise RuntimeError("no worker runtime: it is built when a worker process boots")
    return _Installed.runtime
