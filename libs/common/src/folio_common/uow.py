"""Units of work: a whole transaction, retried with exponential backoff and full jitter.

Only transient failures are retried: a dropped or invalidated connection, a serialization
failure or deadlock (by SQLSTATE), a server shutting down or refusing connections, and a
pool timeout. The *whole* function is re-run on a fresh connection, never a lone COMMIT, so
the work must be idempotent up to its commit (it is: nothing is visible before it).
Permanent errors — integrity, syntax, ``statement_timeout`` — raise at once.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import backoff
import sqlalchemy.exc
from sqlalchemy import Engine

from .logs import get_logger

T = TypeVar("T")

log = get_logger("folio.uow")

#: SQLSTATEs worth re-running a transaction for.
TRANSIENT_SQLSTATES = frozenset(
    {
        "40001",  # serialization_failure
        "40P01",  # deadlock_detected
        "55P03",  # lock_not_available
        "57P01",  # admin_shutdown (server restart, pg_terminate_backend)
        "57P02",  # crash_shutdown
        "57P03",  # cannot_connect_now (server starting up)
        "53300",  # too_many_connections
        "08000",  # connection_exception
        "08001",  # unable to connect
        "08003",  # connection_does_not_exist
        "08004",  # rejected connection
        "08006",  # connection_failure
    }
)


@dataclass(frozen=True)
class RetryPolicy:
    """How a unit of work is retried.

    Parameters:
      max_tries: total attempts, the first included.
      max_time_s: seconds from the first attempt after which no retry starts.
      base_s: the first backoff ceiling; each retry doubles it (full jitter below it).
      cap_s: the largest backoff ceiling.
    """

    max_tries: int = 5
    max_time_s: float = 20.0
    base_s: float = 0.05
    cap_s: float = 2.0


def is_transient(exc: BaseException) -> bool:
    """True when re-running the whole transaction may succeed."""
    if isinstance(exc, sqlalchemy.exc.TimeoutError):  # pool exhausted
        return True
    if not isinstance(exc, sqlalchemy.exc.DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    code = getattr(exc.orig, "pgcode", None)
    if code is not None:
        return code in TRANSIENT_SQLSTATES
    # No SQLSTATE: libpq failed before the server answered (refused, reset, timed out).
    return isinstance(exc, sqlalchemy.exc.OperationalError | sqlalchemy.exc.InterfaceError)


def _work_name(details: Any) -> str:
    """The unit of work's name, from the retried call's arguments (see :func:`_attempt`)."""
    work = details["args"][1]
    return getattr(work, "__qualname__", str(work))


def _log_retry(details: Any) -> None:
    exc = details["exception"]
    log.warning(
        "transient database error, retrying unit of work",
        work=_work_name(details),
        attempt=details["tries"],
        wait_s=round(details["wait"], 3),
        elapsed_s=round(details["elapsed"], 3),
        error=type(exc).__name__,
        sqlstate=getattr(getattr(exc, "orig", None), "pgcode", None),
    )


def _log_giveup(details: Any) -> None:
    exc = details["exception"]
    if is_transient(exc):
        log.error(
            "unit of work failed after retries",
            work=_work_name(details),
            attempts=details["tries"],
            elapsed_s=round(details["elapsed"], 3),
            error=type(exc).__name__,
        )


def _attempt(engine: Engine, work: Callable[..., T], args: Any, kwargs: Any) -> T:
    with engine.begin() as conn:
        return work(conn, *args, **kwargs)


@functools.cache
def _retrying(policy: RetryPolicy, attempt: Callable[..., Any]) -> Callable[..., Any]:
    """``attempt`` retried as ``policy`` says; built once per policy and kind of try (a
    transaction's or a statement's), not per call (building backoff's decorator was a
    measured share of an upload's CPU)."""
    return backoff.on_exception(
        backoff.expo,
        (sqlalchemy.exc.DBAPIError, sqlalchemy.exc.TimeoutError),
        giveup=lambda exc: not is_transient(exc),
        max_tries=policy.max_tries,
        max_time=policy.max_time_s,
        jitter=backoff.full_jitter,
        on_backoff=_log_retry,
        on_giveup=_log_giveup,
        logger=None,
        factor=policy.base_s,
        max_value=policy.cap_s,
    )(attempt)


def run_in_transaction(
    engine: Engine,
    work: Callable[..., T],
    /,
    *args: Any,
    policy: RetryPolicy = RetryPolicy(),
    **kwargs: Any,
) -> T:
    """Run ``work(conn, *args, **kwargs)`` in one transaction; retry it whole if transient."""
    return run_retried(_attempt, engine, work, *args, policy=policy, **kwargs)


def run_retried(
    attempt: Callable[..., Any],
    engine: Engine,
    work: Callable[..., T],
    /,
    *args: Any,
    policy: RetryPolicy = RetryPolicy(),
    **kwargs: Any,
) -> T:
    """``attempt(engine, work, args, kwargs)``, one try of a unit of work on a connection
    of its own, retried whole if transient."""
    result: T = _retrying(policy, attempt)(engine, work, args, kwargs)
    return result
