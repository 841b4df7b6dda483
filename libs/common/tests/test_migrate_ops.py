"""``folio-migrate`` as an operator meets it: a lock left by a killed pre-deploy, the
migration URL, the statement timeout, SSL refusals, and errors as one JSON line."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from folio_common.migrate import migrations_dir
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from testsupport.procs import wait_until

pytestmark = pytest.mark.slow

FOLIO_MIGRATE = Path(sys.executable).parent / "folio-migrate"
#: A migration that holds yoyo's lock while its client sleeps (the server sits idle in
#: the transaction, so a SIGKILLed client's connection closes at once, as in a container).
SLOW_MIGRATION = """
import time
from yoyo import step

__depends__ = {"0004_webhooks"}


def pause(conn):
    time.sleep(120)


steps = [step(pause)]
"""


@pytest.fixture
def slow_migrations(tmp_path: Path) -> Path:
    target = tmp_path / "migrations"
    shutil.copytree(migrations_dir(), target)
    (target / "0005_slow.py").write_text(SLOW_MIGRATION)
    return target


def _env(url: str, **extra: str) -> dict[str, str]:
    environ = {
        k: v
        for k, v in os.environ.items()
        if k not in ("FOLIO_ENV", "LOG_FORMAT", "DB_SSLMODE", "MIGRATE_DATABASE_URL")
    }
    return {**environ, "DATABASE_URL": url, "LOG_LEVEL": "info", **extra}


def _start(url: str, *args: str, **extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(FOLIO_MIGRATE), *args],
        env=_env(url, **extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _migrate(url: str, *args: str, **extra: str) -> tuple[int, list[dict[str, Any]], str]:
    proc = _start(url, *args, **extra)
    stdout, stderr = proc.communicate(timeout=180)
    lines = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    return proc.returncode, [x for x in lines if x["logger"] == "folio.migrate"], stderr


def _lock_rows(url: str) -> list[Any]:
    engine = create_engine(
        url.replace("postgresql://", "postgresql+psycopg2://", 1), poolclass=NullPool
    )
    try:
        with engine.connect() as conn:
            if conn.execute(text("SELECT to_regclass('yoyo_lock')")).scalar() is None:
                return []
            return list(conn.execute(text("SELECT pid FROM yoyo_lock")).scalars())
    finally:
        engine.dispose()


def _holding_the_lock(url: str, slow: Path) -> subprocess.Popen[str]:
    proc = _start(url, "apply", FOLIO_MIGRATIONS=str(slow))
    wait_until(lambda: _lock_rows(url) == [proc.pid], timeout=60)
    return proc


def test_break_lock_refuses_a_live_holder_then_clears_a_killed_ones(
    fresh_url: str, slow_migrations: Path
) -> None:
    holder = _holding_the_lock(fresh_url, slow_migrations)
    try:
        rc, lines, stderr = _migrate(fresh_url, "break-lock")
        assert rc == 1, stderr
        (line,) = lines
        assert line["level"] == "error"
        assert line["holder_pid"] == holder.pid
        assert line["holder_age_s"] >= 0
        assert "still connected" in line["message"]
        assert _lock_rows(fresh_url) == [holder.pid]
    finally:
        holder.send_signal(signal.SIGKILL)  # a pre-deploy container killed mid-migration
        holder.communicate(timeout=30)
    assert _lock_rows(fresh_url) == [holder.pid]  # yoyo's lock outlives its process

    rc, lines, stderr = _migrate(fresh_url, "break-lock")
    assert rc == 0, stderr
    assert lines[-1]["message"] == "migration lock broken"
    assert lines[-1]["holder_pid"] == holder.pid
    assert _lock_rows(fresh_url) == []

    # The next pre-deploy (the real migrations) then goes through, and verifies.
    rc, _, stderr = _migrate(fresh_url, "apply")
    assert rc == 0, stderr
    rc, lines, stderr = _migrate(fresh_url, "verify")
    assert rc == 0, stderr
    rc, lines, _ = _migrate(fresh_url, "break-lock")
    assert rc == 0 and lines[-1]["message"] == "no migration lock is held"


def test_migrate_database_url_is_used_instead_of_database_url(fresh_url: str) -> None:
    unusable = fresh_url.rsplit("/", 1)[0] + f"/folio_absent_{uuid.uuid4().hex[:8]}"
    rc, _, stderr = _migrate(unusable, "apply", MIGRATE_DATABASE_URL=fresh_url, **{})
    assert rc == 0, stderr
    rc, _, stderr = _migrate(unusable, "verify", MIGRATE_DATABASE_URL=fresh_url)
    assert rc == 0, stderr


def test_a_migration_over_its_statement_timeout_fails_in_one_json_line(
    fresh_url: str, tmp_path: Path
) -> None:
    target = tmp_path / "migrations"
    shutil.copytree(migrations_dir(), target)
    (target / "0005_long.sql").write_text("-- depends: 0004_webhooks\nSELECT pg_sleep(3);\n")
    rc, lines, stderr = _migrate(
        fresh_url, "apply", FOLIO_MIGRATIONS=str(target), MIGRATE_STATEMENT_TIMEOUT_MS="500"
    )
    assert rc == 1
    assert "Traceback" not in stderr
    (line,) = [x for x in lines if x["level"] == "error"]
    assert "statement timeout" in line["message"]
    assert line["command"] == "apply"
    # Its own setting, not the role's: a generous one lets the same migration through.
    rc, _, stderr = _migrate(
        fresh_url, "apply", FOLIO_MIGRATIONS=str(target), MIGRATE_STATEMENT_TIMEOUT_MS="60000"
    )
    assert rc == 0, stderr


@pytest.mark.parametrize("command", ["apply", "verify"])
def test_ssl_required_against_a_plain_server_fails_at_once_naming_ssl(
    fresh_url: str, command: str
) -> None:
    started = time.monotonic()
    rc, lines, stderr = _migrate(fresh_url, command, DB_SSLMODE="require")
    elapsed = time.monotonic() - started
    assert rc == 1
    assert "Traceback" not in stderr
    errors = [x for x in lines if x["level"] == "error"]
    assert len(errors) == 1, lines
    assert "SSL" in errors[0]["message"]
    assert elapsed < 30  # not the 60 s wait for a database that will never answer


def _execute(url: str, sql: str) -> None:
    engine = create_engine(
        url.replace("postgresql://", "postgresql+psycopg2://", 1), poolclass=NullPool
    )
    try:
        with engine.begin() as conn:
            conn.execute(text(sql))
    finally:
        engine.dispose()


def _bloat(url: str) -> dict[str, dict[str, Any]]:
    rc, lines, stderr = _migrate(url, "bloat")
    assert rc == 0, stderr
    return {x["table"]: x for x in lines if x["message"] == "table bloat"}


def test_churning_tables_get_tuned_autovacuum_and_bloat_reports_their_dead_rows(
    fresh_url: str,
) -> None:
    rc, _, stderr = _migrate(fresh_url, "apply")
    assert rc == 0, stderr
    # Blob churn as under load: chunks written, then deleted.
    _execute(
        fresh_url,
        "INSERT INTO blobs (key, seq, data) "
        "SELECT 'jobs/x/source', g, convert_to(repeat('x', 3000), 'UTF8') "
        "FROM generate_series(1, 3000) g",
    )
    _execute(fresh_url, "DELETE FROM blobs")
    wait_until(lambda: _bloat(fresh_url)["blobs"]["dead_rows"] >= 3000, timeout=30)
    report = _bloat(fresh_url)
    assert set(report) >= {"jobs", "blobs", "job_pages", "job_parts"}
    blobs = report["blobs"]
    assert blobs["live_rows"] == 0 and blobs["dead_pct"] == 100.0
    assert blobs["total_mb"] > 0
    tuned = {name for name, row in report.items() if row["autovacuum_tuned"]}
    assert tuned == {"blobs", "job_pages", "job_parts"}

    # The migration rolls back (defaults again) and applies again (idempotent). Rollback
    # undoes the latest migration: first every one that came after it.
    later = [
        p for p in migrations_dir().glob("*.sql")
        if not p.name.endswith(".rollback.sql") and p.stem > "0005_autovacuum"
    ]  # fmt: skip
    for _ in range(len(later) + 1):
        rc, _, stderr = _migrate(fresh_url, "rollback")
        assert rc == 0, stderr
    assert not any(row["autovacuum_tuned"] for row in _bloat(fresh_url).values())
    rc, _, stderr = _migrate(fresh_url, "apply")
    assert rc == 0, stderr
    assert _bloat(fresh_url)["blobs"]["autovacuum_tuned"]
