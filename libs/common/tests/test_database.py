"""The pool-tuned engine: options, fork safety, pool stats, statement timeout, pool exhaustion."""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import pytest
import sqlalchemy.exc
from folio_common.database import KEEPALIVES, Database, create_engine
from folio_common.settings import Settings
from folio_common.uow import RetryPolicy
from sqlalchemy import Connection, text


def _dsn_parameters(database: Database) -> dict[str, str]:
    with database.connect() as conn:
        raw: Any = conn.connection.dbapi_connection
        return dict(raw.get_dsn_parameters())


def test_engine_applies_pool_options_from_settings(env: dict[str, str]) -> None:
    settings = Settings.from_env(
        {
            **env,
            "DB_POOL_SIZE": "3",
            "DB_MAX_OVERFLOW": "2",
            "DB_POOL_TIMEOUT": "1.5",
            "DB_POOL_RECYCLE": "120",
        }
    )
    engine = create_engine(settings, application_name="folio-test-options")
    pool: Any = engine.pool
    try:
        assert type(pool).__name__ == "QueuePool"
        assert pool.size() == 3
        assert pool._max_overflow == 2
        assert pool.timeout() == 1.5
        assert pool._recycle == 120
        assert pool._pre_ping is True
        assert pool._pool.use_lifo is True
        assert engine.url.drivername == "postgresql+psycopg2"
    finally:
        engine.dispose()


def test_connect_args_reach_the_server(settings: Settings) -> None:
    database = Database.from_settings(settings, application_name="folio-test-connect-args")
    try:
        params = _dsn_parameters(database)
        assert params["connect_timeout"] == str(settings.db_connect_timeout)
        for name, value in KEEPALIVES.items():
            assert params[name] == str(value)
        with database.connect() as conn:
            names = conn.execute(
                text("SELECT application_name FROM pg_stat_activity WHERE pid = pg_backend_pid()")
            ).scalar_one()
        assert names == "folio-test-connect-args"
    finally:
        database.close()


def test_sslmode_comes_from_db_sslmode_when_the_url_has_none(env: dict[str, str]) -> None:
    # The local server has ssl=off: "require" can only fail, which proves it was applied.
    settings = Settings.from_env({**env, "DB_SSLMODE": "require"})
    database = Database.from_settings(settings, application_name="folio-test-ssl")
    try:
        with pytest.raises(sqlalchemy.exc.OperationalError, match="SSL"):
            database.connect().close()
    finally:
        database.close()
    settings = Settings.from_env({**env, "DB_SSLMODE": "disable"})
    database = Database.from_settings(settings, application_name="folio-test-ssl")
    try:
        assert _dsn_parameters(database)["sslmode"] == "disable"
    finally:
        database.close()


def test_sslmode_in_the_url_wins_over_db_sslmode(env: dict[str, str]) -> None:
    url = env["DATABASE_URL"] + "?sslmode=disable"
    settings = Settings.from_env({**env, "DATABASE_URL": url, "DB_SSLMODE": "require"})
    database = Database.from_settings(settings, application_name="folio-test-ssl")
    try:
        assert _dsn_parameters(database)["sslmode"] == "disable"
    finally:
        database.close()


@pytest.mark.slow  # forks
def test_after_fork_in_child_leaves_parent_pooled_connection_working(db: Database) -> None:
    with db.connect() as conn:
        parent_pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
    assert db.stats().checked_in == 1

    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        code = 1
        try:
            db.after_fork()
            with db.connect() as conn:
                child_pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
            code = 0 if child_pid != parent_pid else 3
            db.close()
        finally:
            os._exit(code)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0

    with db.connect() as conn:
        assert conn.execute(text("SELECT pg_backend_pid()")).scalar_one() == parent_pid


def test_pool_stats_move_when_a_connection_is_checked_out(db: Database) -> None:
    before = db.stats()
    assert before.checked_out == 0
    with db.connect() as conn:
        conn.execute(text("SELECT 1"))
        during = db.stats()
        assert during.checked_out == 1
        assert during.size == Settings.from_env({}).db_pool_size
    after = db.stats()
    assert after.checked_out == 0
    assert after.checked_in >= 1
    assert set(after.as_dict()) == {"size", "checked_out", "checked_in", "overflow", "timeout_s"}


@pytest.mark.parametrize("unit", ["transaction", "statement"])
def test_statement_timeout_applies_per_transaction_and_is_not_retried(
    env: dict[str, str], unit: str
) -> None:
    settings = Settings.from_env({**env, "DB_STATEMENT_TIMEOUT_MS": "200"})
    database = Database.from_settings(settings, application_name="folio-test-timeout")
    attempts = 0

    def sleep_too_long(conn: Connection) -> None:
        nonlocal attempts
        attempts += 1
        conn.execute(text("SELECT pg_sleep(2)"))

    try:
        started = time.monotonic()
        with pytest.raises(sqlalchemy.exc.OperationalError) as caught:
            getattr(database, unit)(sleep_too_long)
        assert caught.value.orig.pgcode == "57014"  # type: ignore[union-attr]
        assert attempts == 1
        assert time.monotonic() - started < 1.5
        # SET LOCAL: the pooled connection does not keep the timeout after the transaction.
        with database.connect() as conn:
            assert conn.execute(text("SHOW statement_timeout")).scalar_one() == "0"
        assert database.transaction(lambda conn: conn.execute(text("SELECT 1")).scalar()) == 1
    finally:
        database.close()


@pytest.mark.slow
def test_a_statement_reads_rows_as_a_transaction_does(db: Database) -> None:
    """:meth:`Database.statement` runs on the driver's connection (folio_common.dbapi):
    its rows, values and errors are what SQLAlchemy gives in a transaction."""
    sql = text(
        """SELECT CAST(:id AS uuid) AS id, now() AS at, CAST('{"a": [1]}' AS jsonb) AS doc,
                  CAST(:data AS bytea) AS data, ARRAY[1, 2] AS numbers, 100 % 7 AS rest
           FROM generate_series(1, :n)"""
    )
    params = {"id": "7a1e5b7e-9a4b-4c1e-8c53-0f6a0c8f2f11", "data": b"\x00%PDF", "n": 2}

    def rows(conn: Connection) -> list[dict[str, Any]]:
        return [row._asdict() | {"at": None} for row in conn.execute(sql, params)]

    assert db.statement(rows) == db.transaction(rows)
    row = db.statement(lambda conn: conn.execute(sql, params | {"n": 1}).one())
    assert (row.doc, bytes(row.data), row.numbers, row.rest) == ({"a": [1]}, b"\x00%PDF", [1, 2], 2)
    with pytest.raises(sqlalchemy.exc.NoResultFound):
        db.statement(lambda conn: conn.execute(sql, params | {"n": 0}).one())
    with pytest.raises(sqlalchemy.exc.ProgrammingError):  # the driver's error, as SQLAlchemy's
        db.statement(lambda conn: conn.execute(text("SELECT no_such_column")))
    assert db.stats().checked_out == 0


def test_exhausted_pool_raises_only_pool_timeout_errors(env: dict[str, str]) -> None:
    settings = Settings.from_env(
        {**env, "DB_POOL_SIZE": "1", "DB_MAX_OVERFLOW": "0", "DB_POOL_TIMEOUT": "0.2"}
    )
    database = Database.from_settings(settings, application_name="folio-test-pool")
    errors: list[BaseException] = []
    successes: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(20)

    def hold_connection(conn: Connection) -> int:
        time.sleep(0.05)
        return int(conn.execute(text("SELECT 1")).scalar_one())

    def run() -> None:
        start.wait()
        try:
            result = database.transaction(hold_connection, policy=RetryPolicy(max_tries=1))
        except BaseException as exc:
            with lock:
                errors.append(exc)
        else:
            with lock:
                successes.append(result)

    threads = [threading.Thread(target=run) for _ in range(20)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert len(errors) + len(successes) == 20
        assert successes, "no unit of work got the connection"
        assert errors, "the pool was never exhausted"
        assert {type(e) for e in errors} == {sqlalchemy.exc.TimeoutError}, errors
        assert database.stats().checked_out == 0
    finally:
        database.close()


def test_a_statement_whose_connection_is_killed_is_retried_and_leaks_nothing(
    env: dict[str, str],
) -> None:
    """The chaos suite's pg_terminate_backend landing during a one-statement unit (an
    upload): the unit is retried on a fresh connection, no raw driver error escapes the
    connection's return to the pool, and the pool's one slot comes back."""
    db = Database.from_settings(
        Settings.from_env({**env, "DB_POOL_SIZE": "1", "DB_MAX_OVERFLOW": "0"}),
        application_name="folio-test-killed",
    )
    killer = Database.from_settings(Settings.from_env(env), application_name="folio-test-killer")
    pids: list[int] = []

    def kill_soon(pid: int) -> None:
        time.sleep(0.2)
        killer.transaction(lambda c: c.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid}))

    def slow_on_the_first_try(conn: Connection) -> int:
        pid = int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())
        pids.append(pid)
        if len(pids) == 1:
            threading.Thread(target=kill_soon, args=(pid,)).start()
            conn.execute(text("SELECT pg_sleep(10)"))
        return pid

    def backend_pid(conn: Connection) -> int:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())

    def gone(pid: int) -> bool:
        alive = killer.transaction(
            lambda c: c.execute(
                text("SELECT count(*) FROM pg_stat_activity WHERE pid = :p"), {"p": pid}
            ).scalar_one()
        )
        return not alive

    try:
        # Killed mid-statement.
        assert db.statement(slow_on_the_first_try) == pids[-1] != pids[0]
        assert db.stats().checked_out == 0
        # Killed while idle in the pool (no pre-ping: the next unit meets the dead one).
        idle = db.statement(backend_pid)
        killer.transaction(
            lambda c: c.execute(text("SELECT pg_terminate_backend(:p)"), {"p": idle})
        )
        deadline = time.monotonic() + 10
        while not gone(idle) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert db.statement(backend_pid) != idle
        assert db.stats().checked_out == 0
    finally:
        db.close()
        killer.close()
