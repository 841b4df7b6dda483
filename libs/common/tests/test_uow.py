"""Units of work: retried whole on transient failures, at once on permanent ones, and logged."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy.exc
from folio_common.database import Database
from folio_common.uow import RetryPolicy, is_transient
from sqlalchemy import Connection, create_engine, text
from sqlalchemy.pool import NullPool

from testsupport.logs import LoggedLines

FAST = RetryPolicy(max_tries=5, max_time_s=10.0, base_s=0.01, cap_s=0.05)


@pytest.fixture
def admin(database_url: str) -> Iterator[Any]:
    engine = create_engine(
        database_url.replace("postgresql://", "postgresql+psycopg2://", 1),
        poolclass=NullPool,
        isolation_level="AUTOCOMMIT",
    )
    yield engine
    engine.dispose()


def _count(db: Database, key: str) -> int:
    with db.connect() as conn:
        return int(
            conn.execute(text("SELECT count(*) FROM blobs WHERE key = :k"), {"k": key}).scalar_one()
        )


def _insert(conn: Connection, key: str, seq: int = 0) -> None:
    conn.execute(
        text("INSERT INTO blobs (key, seq, data) VALUES (:k, :s, 'x')"), {"k": key, "s": seq}
    )


def test_connection_killed_mid_transaction_is_retried_and_commits_once(
    db: Database, admin: Any, info_logs: LoggedLines
) -> None:
    key = f"uow/{uuid.uuid4()}"
    inside, proceed = threading.Event(), threading.Event()
    backend_pids: list[int] = []

    def work(conn: Connection) -> str:
        backend_pids.append(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())
        _insert(conn, key)
        if len(backend_pids) == 1:
            inside.set()
            assert proceed.wait(10)
        conn.execute(text("SELECT 1"))
        return "done"

    def killer() -> None:
        assert inside.wait(10)
        with admin.connect() as conn:
            killed = conn.execute(
                text("SELECT pg_terminate_backend(:pid)"), {"pid": backend_pids[0]}
            ).scalar_one()
        assert killed
        proceed.set()

    thread = threading.Thread(target=killer)
    thread.start()
    assert db.transaction(work, policy=FAST) == "done"
    thread.join()

    assert len(backend_pids) == 2
    assert backend_pids[0] != backend_pids[1]
    assert _count(db, key) == 1
    retries = info_logs.lines("folio.uow")
    assert len(retries) == 1
    assert retries[0]["level"] == "warning"
    assert retries[0]["attempt"] == 1
    assert retries[0]["message"] == "transient database error, retrying unit of work"
    assert retries[0]["work"].endswith("work")  # the work function, not the retry wrapper
    assert "attempt" not in retries[0]["work"]


@pytest.mark.parametrize("unit", ["transaction", "statement"])
def test_integrity_error_is_not_retried(db: Database, info_logs: LoggedLines, unit: str) -> None:
    key = f"uow/{uuid.uuid4()}"
    db.transaction(_insert, key, policy=FAST)
    attempts = 0

    def duplicate(conn: Connection) -> None:
        nonlocal attempts
        attempts += 1
        _insert(conn, key)

    with pytest.raises(sqlalchemy.exc.IntegrityError):
        getattr(db, unit)(duplicate, policy=FAST)
    assert attempts == 1
    assert _count(db, key) == 1
    assert not info_logs.lines("folio.uow")


def test_serialization_failure_is_retried(db: Database, admin: Any, info_logs: LoggedLines) -> None:
    """A real 40001: our REPEATABLE READ snapshot, then a concurrent committed update."""
    key = f"uow/{uuid.uuid4()}"
    db.transaction(_insert, key, policy=FAST)
    attempts = 0

    def bump(conn: Connection) -> None:
        nonlocal attempts
        attempts += 1
        conn.execute(text("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE"))
        conn.execute(text("SELECT data FROM blobs WHERE key = :k"), {"k": key}).all()
        if attempts == 1:
            with admin.connect() as other:
                other.execute(text("UPDATE blobs SET data = 'y' WHERE key = :k"), {"k": key})
        conn.execute(text("UPDATE blobs SET data = data || 'z' WHERE key = :k"), {"k": key})

    db.transaction(bump, policy=FAST)
    assert attempts == 2
    with db.connect() as conn:
        data = conn.execute(text("SELECT data FROM blobs WHERE key = :k"), {"k": key}).scalar_one()
    assert bytes(data) == b"yz"
    retries = info_logs.lines("folio.uow")
    assert [line["sqlstate"] for line in retries] == ["40001"]
    assert retries[0]["error"] == "OperationalError"


def _always_serialization_failure(conn: Connection, calls: list[float]) -> None:
    calls.append(time.monotonic())
    conn.execute(
        text(
            "DO $$ BEGIN RAISE EXCEPTION 'conflict' USING ERRCODE = 'serialization_failure'; END $$"
        )
    )


def test_retries_stop_after_max_tries(db: Database, info_logs: LoggedLines) -> None:
    calls: list[float] = []
    with pytest.raises(sqlalchemy.exc.OperationalError) as caught:
        db.transaction(
            _always_serialization_failure,
            calls,
            policy=RetryPolicy(max_tries=3, max_time_s=30, base_s=0.01, cap_s=0.02),
        )
    assert is_transient(caught.value)
    assert len(calls) == 3
    uow_lines = info_logs.lines("folio.uow")
    assert [line["level"] for line in uow_lines] == ["warning", "warning", "error"]
    assert uow_lines[-1]["attempts"] == 3


def test_retries_stop_after_max_time(db: Database) -> None:
    calls: list[float] = []
    started = time.monotonic()
    with pytest.raises(sqlalchemy.exc.OperationalError):
        db.transaction(
            _always_serialization_failure,
            calls,
            policy=RetryPolicy(max_tries=1000, max_time_s=0.6, base_s=0.05, cap_s=0.1),
        )
    elapsed = time.monotonic() - started
    assert len(calls) > 2
    assert elapsed < 0.6 + 0.5
    assert calls[-1] - calls[0] <= 0.6 + 0.1


def test_pool_timeout_and_invalidated_connections_are_transient() -> None:
    assert is_transient(sqlalchemy.exc.TimeoutError("QueuePool limit"))
    assert not is_transient(ValueError("nope"))
