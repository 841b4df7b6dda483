"""The one place settings become connections: database, Redis, broker and blob store.

Every process asks for the connections of its :class:`Role`, so ``DB_SSLMODE``,
``DB_CONNECT_TIMEOUT``, keepalives, Redis TLS and the pool preset of that role hold on
every path. Nothing here connects: engines and Redis clients open their sockets on first
use, so a process may build its connections before it forks only if it never uses them
there (Folio's services build them after the fork).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import Middleware
from sqlalchemy.pool import NullPool

from .blobs import PostgresBlobStore
from .broker import create_broker
from .database import Database
from .lifecycle.runner import Lifecycle
from .redis_client import create_redis
from .settings import Settings


class Role(enum.StrEnum):
    """Who holds the connections; decides the pool preset and the ``application_name``."""

    #: A gunicorn worker process: ``DB_POOL_SIZE`` + ``DB_MAX_OVERFLOW`` shared by its threads.
    API = "api"
    #: A Dramatiq worker process: the same settings, shared by its worker threads.
    WORKER = "worker"
    #: An operator command (``folio``, ``folio-worker sweep``): one connection, one spare.
    CLI = "cli"
    #: A one-shot check or schema change (``folio-migrate``, the start-up wait): no pool,
    #: a fresh connection each time, so nothing stale survives between retries.
    MIGRATE = "migrate"


#: Engine arguments of each role on top of :func:`folio_common.database.create_engine`'s.
POOL_PRESETS: dict[Role, dict[str, Any]] = {
    # No pre-ping (a round trip per checkout, research/frontdoor.md §6): every API query
    # runs in a unit of work whose retry takes a fresh connection when a pooled one turns
    # out dead, and a submission's retry is safe (its job id is fixed before the first try).
    Role.API: {"pool_pre_ping": False},
    # The same for the worker: its units of work retry whole; a heartbeat (one try) that
    # meets a dead connection is skipped once, and the next beat takes a fresh one.
    Role.WORKER: {"pool_pre_ping": False},
    Role.CLI: {"pool_size": 1, "max_overflow": 1},
    Role.MIGRATE: {"poolclass": NullPool},
}


def application_name(role: Role) -> str:
    """What ``pg_stat_activity`` shows for the role's connections."""
    return f"folio-{role.value}"


def database(settings: Settings, role: Role, **overrides: Any) -> Database:
    """The role's :class:`Database`; ``overrides`` replace single engine arguments (the
    API passes its instrumented ``poolclass``)."""
    return Database.from_settings(
        settings, application_name=application_name(role), **{**POOL_PRESETS[role], **overrides}
    )


@dataclass(frozen=True)
class Connections:
    """Everything a process talks to, built from its settings for one role.

    Parameters:
      settings: the settings they were built from.
      db: the database, with the role's pool preset.
      redis: the Redis client (TLS as ``REDIS_TLS``/``rediss://`` say).
      broker: the Dramatiq broker, over ``redis``'s connection pool.
      blobs: the blob store (inside PostgreSQL: it uses ``db``'s transactions).
    """

    settings: Settings
    db: Database
    redis: redis.Redis
    broker: RedisBroker
    blobs: PostgresBlobStore

    @classmethod
    def for_role(
        cls,
        settings: Settings,
        role: Role,
        *,
        broker: RedisBroker | None = None,
        broker_middleware: list[Middleware] | None = None,
        **db_overrides: Any,
    ) -> Connections:
        """The role's connections.

        Parameters:
          broker: an existing broker to reuse, with its Redis client (the worker's, which
            Dramatiq needs before any connection may be made).
          broker_middleware: the middleware of a new broker (Dramatiq's defaults if None).
          db_overrides: passed to :func:`database`.
        """
        if broker is None:
            client = create_redis(settings)
            broker = create_broker(settings, client, broker_middleware)
        return cls(
            settings=settings,
            db=database(settings, role, **db_overrides),
            redis=broker.client,
            broker=broker,
            blobs=PostgresBlobStore(),
        )

    def lifecycle(self) -> Lifecycle:
        """Job transitions over these connections, their effects run after each commit."""
        return Lifecycle(self.db, self.redis, self.broker, self.settings)

    def close(self) -> None:
        """Close the pool and the Redis connections (a one-shot command, at its end)."""
        self.db.close()
        self.redis.close()
