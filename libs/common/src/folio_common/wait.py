"""Waiting for a dependency at start-up: backoff with full jitter, a bounded total time,
one JSON log line per attempt."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import backoff
import sqlalchemy
import structlog

from .logs import redact_text
from .redis_client import RedisMisconfigured, create_redis, ping
from .settings import Settings

log = structlog.stdlib.get_logger("folio.wait")


class DependencyUnavailable(RuntimeError):
    """A dependency did not answer within the allowed time."""


def never_permanent(exc: Exception) -> bool:
    return False


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
            error=redact_text(f"{type(exc).__name__}: {exc}".splitlines()[0]),
        )

    def on_giveup(details: Any) -> None:  # the last attempt gets its line too
        exc = details.get("exception")
        log.error(
            f"giving up on {name}",
            dependency=name,
            attempt=details["tries"],
            elapsed_s=round(details["elapsed"], 2),
            error=redact_text(f"{type(exc).__name__}: {exc}".splitlines()[0]),
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
            raise DependencyUnavailable(redact_text(f"{name} refused: {exc}")) from exc
        raise DependencyUnavailable(
            redact_text(f"{name} unreachable after {max_time_s:g}s: {type(exc).__name__}: {exc}")
        ) from exc
    log.info(f"{name} is reachable", dependency=name)


def wait_for_database(settings: Settings, max_time_s: float) -> None:
    """Until PostgreSQL answers ``SELECT 1`` (a fresh engine each try: no pool to go stale)."""

    def check() -> None:
        engine = sqlalchemy.create_engine(
            settings.database(), connect_args={"connect_timeout": settings.db_connect_timeout}
        )
        try:
            with engine.connect() as conn:
                conn.execute(sqlalchemy.text("SELECT 1"))
        finally:
            engine.dispose()

    wait_for("postgres", check, max_time_s)


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
