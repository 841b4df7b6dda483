"""Pool-tuned SQLAlchemy engines (psycopg2) and the :class:`Database` handle services use.

Why each knob is set (see docs/deployment/railway.md for sizing):

- ``pool_pre_ping`` + LIFO: a connection the pooler or a NAT dropped while idle is
  noticed at checkout, and surplus idle connections age out server-side. The API and
  worker roles turn the ping off (:data:`folio_common.connections.POOL_PRESETS`): their
  units of work retry whole on a fresh connection, which makes the ping's round trip
  per checkout redundant.
- ``pool_recycle`` below Supavisor's idle timeout, so the server never closes one first.
- TCP keepalives and ``connect_timeout``: a dead peer fails in seconds, not minutes.
- ``statement_timeout`` is applied with ``SET LOCAL``, put in front of every query string
  of a unit of work (:func:`timed_view`; no round trip of its own), because poolers in
  transaction mode ignore or reject the ``options`` startup parameter.
- :meth:`Database.statement` runs a unit of work that is one (possibly multi-statement)
  query string, atomic as PostgreSQL's implicit transaction, in ONE round trip instead of
  BEGIN, the statement and COMMIT (research/frontdoor.md §7: 0.68 ms against 1.28 ms on
  loopback). It borrows a connection of the same pool (no extra connection, so the
  connection budget holds), switches the driver's autocommit on for that one unit — not
  SQLAlchemy's AUTOCOMMIT isolation level, whose reset at check-in raises on a connection
  killed meanwhile and then never returns the connection to the pool — and sends the
  string on the driver's connection (:mod:`folio_common.dbapi`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import sqlalchemy
import sqlalchemy.exc
from sqlalchemy import Connection, Engine, event
from sqlalchemy.pool import NullPool

from . import dbapi
from .settings import Settings
from .uow import RetryPolicy, run_in_transaction, run_retried

T = TypeVar("T")

#: TCP keepalive: first probe after 30 s idle, then every 10 s, give up after 3 misses.
KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
}

#: Arguments only a QueuePool takes; dropped when the engine is given a NullPool.
QUEUE_POOL_ARGS = ("pool_size", "max_overflow", "pool_timeout", "pool_use_lifo")


def create_engine(settings: Settings, *, application_name: str, **overrides: Any) -> Engine:
    """An engine tuned from ``settings``; ``overrides`` replace single ``create_engine`` args."""
    url = settings.database()
    connect_args: dict[str, Any] = {
        "connect_timeout": settings.db_connect_timeout,
        "application_name": application_name,
        **KEEPALIVES,
    }
    if settings.db_sslmode and "sslmode" not in url.query:
        connect_args["sslmode"] = settings.db_sslmode
    options: dict[str, Any] = {
        "pool_size": settings.db_pool_size,
        "max_overflow": settings.db_max_overflow,
        "pool_timeout": settings.db_pool_timeout,
        "pool_recycle": settings.db_pool_recycle,
        "pool_pre_ping": True,
        "pool_use_lifo": True,
        "connect_args": connect_args,
        # Repeated identical statements stay cheap without server-side prepared statements,
        # which transaction-mode poolers do not support.
        "query_cache_size": 500,
    }
    options.update(overrides)
    if options.get("poolclass") is NullPool:
        # No pool to size: a connection per checkout, closed on return (one-shot commands).
        for name in QUEUE_POOL_ARGS:
            options.pop(name, None)
    return sqlalchemy.create_engine(url, **options)


@dataclass(frozen=True)
class PoolStats:
    """A pool's state, for health documents and metrics."""

    size: int
    checked_out: int
    checked_in: int
    overflow: int
    timeout_s: float

    def as_dict(self) -> dict[str, float]:
        return {
            "size": self.size,
            "checked_out": self.checked_out,
            "checked_in": self.checked_in,
            "overflow": self.overflow,
            "timeout_s": self.timeout_s,
        }


def pool_stats(engine: Engine) -> PoolStats:
    pool: Any = engine.pool
    return PoolStats(
        size=pool.size(),
        checked_out=pool.checkedout(),
        checked_in=pool.checkedin(),
        overflow=max(0, pool.overflow()),
        timeout_s=pool.timeout(),
    )


def timed_view(engine: Engine, statement_timeout_ms: int = 0) -> Engine:
    """``engine``, sharing its pool, for units of work (transactions and statements).

    With ``statement_timeout_ms``, ``SET LOCAL statement_timeout`` is put in front of every
    query string: the same round trip, where a ``SET LOCAL`` of its own cost one more per
    transaction. It lasts until the transaction (or one string's implicit one) ends.
    """
    if not statement_timeout_ms:
        return engine.execution_options()
    prefix = f"SET LOCAL statement_timeout = {int(statement_timeout_ms)}; "
    # Statements (folio_common.dbapi) read the prefix from the view; transactions get it
    # from the event.
    view = engine.execution_options(**{dbapi.PREFIX_OPTION: prefix})

    @event.listens_for(view, "before_cursor_execute", retval=True)
    def _timeout(
        conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool
    ) -> tuple[str, Any]:
        return prefix + statement, params

    return view


class Database:
    """An engine plus the retry policy of its units of work.

    Parameters:
      engine: from :func:`create_engine`.
      policy: how transient failures are retried (see :class:`RetryPolicy`).
      statement_timeout_ms: applied to every transaction with ``SET LOCAL``; 0 = off.
    """

    def __init__(
        self,
        engine: Engine,
        policy: RetryPolicy | None = None,
        statement_timeout_ms: int = 0,
    ) -> None:
        self.engine = engine
        self.policy = policy or RetryPolicy()
        self.statement_timeout_ms = statement_timeout_ms
        #: ``engine`` (same pool) with the statement timeout, for units of work.
        self.timed_engine = timed_view(engine, statement_timeout_ms)

    @classmethod
    def from_settings(
        cls, settings: Settings, *, application_name: str, **overrides: Any
    ) -> Database:
        engine = create_engine(settings, application_name=application_name, **overrides)
        policy = RetryPolicy(
            max_tries=settings.db_retry_max_tries, max_time_s=settings.db_retry_max_time_s
        )
        return cls(engine, policy, settings.db_statement_timeout_ms)

    def with_policy(self, policy: RetryPolicy) -> Database:
        """The same engines (and pools) with another retry policy."""
        return Database(self.engine, policy, self.statement_timeout_ms)

    def statement(
        self,
        work: Callable[..., T],
        *args: Any,
        policy: RetryPolicy | None = None,
        **kwargs: Any,
    ) -> T:
        """Run ``work(conn, *args, **kwargs)`` on an autocommit connection, retried whole
        if transient.

        Each ``conn.execute`` commits on its own, so ``work`` must send ONE query string
        (several statements joined by ``;`` run as one implicit transaction, all or
        nothing) — and be safe to repeat: a retry after a commit whose answer was lost
        runs it again (the caller makes the repeat detectable, e.g. by a fixed key).
        """
        return run_retried(
            dbapi.attempt, self.timed_engine, work, *args, policy=policy or self.policy, **kwargs
        )

    def transaction(
        self,
        work: Callable[..., T],
        *args: Any,
        policy: RetryPolicy | None = None,
        **kwargs: Any,
    ) -> T:
        """Run ``work(conn, *args, **kwargs)`` as one transaction, retried whole if transient."""
        return run_in_transaction(
            self.timed_engine, work, *args, policy=policy or self.policy, **kwargs
        )

    def connect(self) -> Connection:
        return self.engine.connect()

    def after_fork(self) -> None:
        """Call in a forked child: drop the parent's pooled sockets without closing them."""
        self.engine.dispose(close=False)  # the autocommit view shares this pool

    def stats(self) -> PoolStats:
        return pool_stats(self.engine)

    def close(self) -> None:
        self.engine.dispose()  # the autocommit view shares this pool
