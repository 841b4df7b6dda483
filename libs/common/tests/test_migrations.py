"""``folio-migrate`` (the console script) against a fresh database per test."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from folio_common.migrate import EXPECTED_COLUMNS, migrations_dir
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

#: Every test runs the console script in subprocesses against a fresh database.
pytestmark = pytest.mark.slow

FOLIO_MIGRATE = Path(sys.executable).parent / "folio-migrate"
FOLIO_TABLES = set(EXPECTED_COLUMNS)
MIGRATION_IDS = sorted(
    p.name.removesuffix(".sql")
    for p in migrations_dir().glob("*.sql")
    if not p.name.endswith(".rollback.sql")
)


def _start(url: str, *args: str) -> subprocess.Popen[str]:
    environ = {k: v for k, v in os.environ.items() if k not in ("FOLIO_ENV", "LOG_FORMAT")}
    return subprocess.Popen(
        [str(FOLIO_MIGRATE), *args],
        env={**environ, "DATABASE_URL": url, "LOG_LEVEL": "info"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _migrate(url: str, *args: str) -> tuple[int, list[dict[str, Any]], str]:
    proc = _start(url, *args)
    stdout, stderr = proc.communicate(timeout=120)
    lines = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    return proc.returncode, lines, stderr


def _folio_lines(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [line for line in lines if line["logger"] == "folio.migrate"]


def _query(url: str, sql: str) -> list[Any]:
    engine = create_engine(
        url.replace("postgresql://", "postgresql+psycopg2://", 1), poolclass=NullPool
    )
    try:
        with engine.begin() as conn:
            return list(conn.execute(text(sql)).scalars())
    finally:
        engine.dispose()


def _tables(url: str) -> set[str]:
    return set(_query(url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))


def test_apply_twice_on_an_empty_database_applies_nothing_the_second_time(fresh_url: str) -> None:
    rc, lines, stderr = _migrate(fresh_url, "apply")
    assert rc == 0, stderr
    assert _folio_lines(lines)[-1]["applied"] == MIGRATION_IDS
    assert _tables(fresh_url) >= FOLIO_TABLES

    rc, lines, stderr = _migrate(fresh_url, "apply")
    assert rc == 0, stderr
    last = _folio_lines(lines)[-1]
    assert (last["message"], last["applied"]) == ("schema up to date", [])
    assert not [line for line in lines if line["message"].startswith("Applying")]
    assert sorted(_query(fresh_url, "SELECT migration_id FROM _yoyo_migration")) == MIGRATION_IDS


def test_apply_succeeds_on_a_database_built_from_the_same_ddl_without_yoyo(fresh_url: str) -> None:
    for migration_id in MIGRATION_IDS:
        subprocess.run(
            ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", fresh_url, "-f",
             str(migrations_dir() / f"{migration_id}.sql")],
            check=True,
            capture_output=True,
        )  # fmt: skip
    assert _tables(fresh_url) >= FOLIO_TABLES
    assert "_yoyo_migration" not in _tables(fresh_url)

    rc, lines, stderr = _migrate(fresh_url, "apply")
    assert rc == 0, stderr
    assert _folio_lines(lines)[-1]["applied"] == MIGRATION_IDS
    rc, _, stderr = _migrate(fresh_url, "verify")
    assert rc == 0, stderr


def test_verify_fails_naming_an_index_dropped_by_hand(fresh_url: str) -> None:
    assert _migrate(fresh_url, "apply")[0] == 0
    rc, lines, stderr = _migrate(fresh_url, "verify")
    assert rc == 0, stderr
    assert _folio_lines(lines)[-1]["message"] == "schema verified"

    _query(fresh_url, "DROP INDEX jobs_sha256_idx; SELECT 1")
    rc, lines, _ = _migrate(fresh_url, "verify")
    assert rc == 1
    failure = _folio_lines(lines)[-1]
    assert failure["level"] == "error"
    assert failure["problems"] == ["missing index jobs_sha256_idx"]


def test_verify_fails_on_an_unmigrated_database(fresh_url: str) -> None:
    rc, lines, _ = _migrate(fresh_url, "verify")
    assert rc == 1
    problems = _folio_lines(lines)[-1]["problems"]
    assert "missing table jobs" in problems
    assert "pending migration 0001_jobs" in problems


def test_rollback_undoes_the_latest_then_all_and_apply_works_again(fresh_url: str) -> None:
    assert _migrate(fresh_url, "apply")[0] == 0
    rc, lines, stderr = _migrate(fresh_url, "rollback")
    assert rc == 0, stderr
    assert _folio_lines(lines)[-1]["rolled_back"] == [MIGRATION_IDS[-1]]
    assert len(_query(fresh_url, "SELECT migration_id FROM _yoyo_migration")) == len(
        MIGRATION_IDS[:-1]
    )

    rc, lines, stderr = _migrate(fresh_url, "rollback", "--all")
    assert rc == 0, stderr
    assert sorted(_folio_lines(lines)[-1]["rolled_back"]) == MIGRATION_IDS[:-1]
    assert not FOLIO_TABLES & _tables(fresh_url)
    assert _query(fresh_url, "SELECT count(*) FROM _yoyo_migration") == [0]

    rc, lines, stderr = _migrate(fresh_url, "apply")
    assert rc == 0, stderr
    assert _folio_lines(lines)[-1]["applied"] == MIGRATION_IDS
    assert _migrate(fresh_url, "verify")[0] == 0


def test_concurrent_runners_apply_each_migration_once(fresh_url: str) -> None:
    runners = [_start(fresh_url, "apply") for _ in range(3)]
    results = [proc.communicate(timeout=120) for proc in runners]
    assert [proc.returncode for proc in runners] == [0, 0, 0], [err for _, err in results]
    applied = _query(
        fresh_url, "SELECT migration_id FROM _yoyo_log WHERE operation = 'apply' ORDER BY 1"
    )
    assert applied == MIGRATION_IDS
