"""Waiting for a dependency at start-up: backoff with full jitter, a bounded total time,
one JSON log line per attempt.

Only a dependency that cannot be reached yet is waited for. A refusal that another try
cannot change (the server does not speak the TLS that ``DB_SSLMODE`` demands, or its
certificate does not verify) fails at once, naming the cause, instead of after a minute
of retries that look like an outage.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import backoff
import sqlalchemy

from .connections import Role, database
from .logs import get_logger, redact_text
from .redis_client import RedisMisconfigured, create_redis, ping
from .settings import Settings

log = get_logger("folio.wait")


#: Fragments of libpq's messages for TLS failures no retry can fix (lower case).
PERMANENT_DATABASE_ERRORS = (
    "does not support ssl",  # sslmode=require and up against a server without TLS
    "ssl was required",
    "certificate",  # verify-ca / verify-full: no root certificate, or it does not match
    "invalid sslmode value",
)


class DependencyUnavailable(RuntimeError):
    """A dependency did not answer within the allowed time, or refused for good."""


def never_permanent(exc: Exception) -> bool:
    return False


def is_permanent_database_error(exc: Exception) -> bool:
    """True for an error another connection attempt cannot change (TLS refused or
    unverifiable); connection errors (refused, timed out, server starting) are not."""
    text = str(exc).lower()
    return any(fragment in text for fragment in PERMANENT_DATABASE_ERRORS)


def _first_line(exc: BaseException | None) -> str:
    return redact_text(f"{type(exc).__name__}: {exc}".splitlines()[0])


def wait_for(
    name: str,
    check: Callable[[], object],
    max_time_s: float = 60.0,
    permanent: Callable[[Exception], bool] = never_permanent,
) -> None:
    """Call ``check`` until it returns; give up with :class:`DependencyUnavailable`
    after ``max_time_s``, or at once when ``permanent(error)`` is true."""

    def on_backoff(details: Any) -> None:
        exc = details.get("exception")
        log.warning(
            f"waiting for {name}",
            dependency=name,
            attempt=details["tries"],
            retry_in_s=round(details.get("wait", 0.0), 2),
            error=_first_line(exc),
        )

    def on_giveup(details: Any) -> None:  # the last attempt gets its line too
        exc = details.get("exception")
        log.error(
            f"giving up on {name}",
            dependency=name,
            attempt=details["tries"],
            elapsed_s=round(details["elapsed"], 2),
            error=_first_line(exc),
        )

    @backoff.on_exception(
        backoff.expo,
        Exception,
        max_time=max_time_s,
        giveup=permanent,
        on_backoff=on_backoff,
        on_giveup=on_giveup,
        logger=None,
        factor=0.2,
        max_value=5.0,
    )
    def attempt() -> None:
        check()

    try:
        attempt()
    except Exception as exc:
        if permanent(exc):
            raise DependencyUnavailable(
                f"{name} refused the connection: {_first_line(exc)}"
            ) from exc
        raise DependencyUnavailable(
            f"{name} unreachable after {max_time_s:g}s: {_first_line(exc)}"
        ) from exc
    log.info(f"{name} is reachable", dependency=name)


def wait_for_database(settings: Settings, max_time_s: float) -> None:
    """Until PostgreSQL answers ``SELECT 1``, connecting as the services do (``DB_SSLMODE``,
    ``DB_CONNECT_TIMEOUT``); without a pool, so each try opens a fresh connection."""
    db = database(settings, Role.MIGRATE)

    def check() -> None:
        with db.connect() as conn:
            conn.execute(sqlalchemy.text("SELECT 1"))

    try:
        wait_for("postgres", check, max_time_s, permanent=is_permanent_database_error)
    finally:
        db.close()


def wait_for_dependencies(settings: Settings, max_time_s: float) -> None:
    """Until PostgreSQL and Redis both answer: what every service's start command does."""
    wait_for_database(settings, max_time_s)
    client = create_redis(settings)
    try:
        wait_for(
            "redis",
            lambda: ping(client, settings),
            max_time_s,
            permanent=lambda exc: isinstance(exc, RedisMisconfigured),
        )
    finally:
        client.close()
