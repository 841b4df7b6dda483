"""The failure modes docs/troubleshooting.md quotes, reproduced with the real commands.

Each ``<!-- check: NAME -->`` block in the doc holds JSON lines as a user sees them. The
test for NAME runs the real command or function, and every quoted line must match a line
it produced: each key the quote shows has the same value, ``…`` matching anything. So the
doc cannot quote a line Folio no longer prints.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import falcon.testing
import pytest
from folio_common.blobs import PostgresBlobStore
from folio_common.broker import create_broker
from folio_common.database import Database
from folio_common.health import redis_probe, run_probes
from folio_common.redis_client import create_redis
from folio_common.settings import Settings
from folio_common.wait import DependencyUnavailable, wait_for_dependencies

from testsupport.logs import logged_lines

ROOT = Path(__file__).resolve().parents[3]
DOC = ROOT / "docs" / "troubleshooting.md"
BIN = Path(sys.executable).parent
REDIS = os.environ.get("FOLIO_TEST_REDIS", "redis://127.0.0.1:6379/0")
KEY = "troubleshooting-key-0123456789"
BLOCK = re.compile(r"<!-- check: (?P<name>[a-z-]+) -->\n```json\n(?P<body>.*?)\n```", re.S)


def quoted(name: str) -> list[dict[str, Any]]:
    """The JSON lines the doc quotes under ``<!-- check: name -->``."""
    blocks = {m["name"]: m["body"] for m in BLOCK.finditer(DOC.read_text())}
    assert name in blocks, f"docs/troubleshooting.md has no check: {name} block"
    return [json.loads(line) for line in blocks[name].splitlines()]


def same(quote: Any, real: Any) -> bool:
    if isinstance(quote, str) and isinstance(real, str):
        pattern = ".*".join(re.escape(part) for part in quote.split("…"))
        return re.fullmatch(pattern, real, re.S) is not None
    return bool(quote == real)


def matches(quote: dict[str, Any], real: dict[str, Any]) -> bool:
    return all(key in real and same(value, real[key]) for key, value in quote.items())


def assert_quoted(quotes: list[dict[str, Any]], produced: list[dict[str, Any]]) -> None:
    for quote in quotes:
        assert any(matches(quote, line) for line in produced), (
            f"no produced line matches the doc's quote\n  quote: {quote}\n  produced: {produced}"
        )


def json_lines(text: str) -> list[dict[str, Any]]:
    lines = []
    for raw in text.splitlines():
        if raw.startswith("{"):
            lines.append(json.loads(raw))
    return lines


def run_migrate(environ: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ.get("PATH", ""), "LOG_FORMAT": "json", **environ}
    return subprocess.run(
        [str(BIN / "folio-migrate"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.slow  # runs folio-migrate in a subprocess
def test_missing_variable_exits_2_naming_it() -> None:
    result = run_migrate(
        {
            "FOLIO_ENV": "production",
            "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/folio",
            "REDIS_URL": REDIS,
        },
        "apply",
    )
    assert result.returncode == 2
    assert_quoted(quoted("missing-variable"), json_lines(result.stdout))


@pytest.mark.slow  # runs folio-migrate in a subprocess
def test_bad_value_exits_2_naming_the_variable_and_problem() -> None:
    result = run_migrate({"DB_POOL_SIZE": "abc"}, "apply")
    assert result.returncode == 2
    assert_quoted(quoted("bad-value"), json_lines(result.stdout))


@pytest.mark.slow  # runs folio-migrate in a subprocess
def test_unreachable_database_gives_up_after_the_wait_with_exit_1() -> None:
    result = run_migrate(
        {"DATABASE_URL": "postgresql://postgres@127.0.0.1:1/folio"}, "apply", "--wait-s", "2"
    )
    assert result.returncode == 1
    assert_quoted(quoted("database-unreachable"), json_lines(result.stdout))


@pytest.mark.slow  # starts the dependency wait against real servers
def test_tls_against_a_plain_redis_stops_start_up_at_once_and_fails_the_probe(
    database_url: str,
) -> None:
    settings = Settings.from_env(
        {"DATABASE_URL": database_url, "REDIS_URL": REDIS.replace("redis://", "rediss://", 1)}
    )
    with (
        logged_lines(logging.INFO, service="api") as captured,
        pytest.raises(DependencyUnavailable, match="REDIS_URL"),
    ):
        wait_for_dependencies(settings, max_time_s=60)
    probe = run_probes({"redis": redis_probe(create_redis(settings))})["redis"]
    produced = [*captured.lines(), probe.as_dict()]
    assert not probe.ok
    assert_quoted(quoted("redis-tls-mismatch"), produced)


@pytest.fixture
def exhausted_api(database_url: str) -> Iterator[falcon.testing.TestClient]:
    """The real API app with a pool of one connection, which the test holds."""
    from folio_api.app import create_app  # noqa: TID251 - the deploy tests drive the API

    settings = Settings.from_env(
        {
            "DATABASE_URL": database_url,
            "REDIS_URL": REDIS,
            "REDIS_NAMESPACE": "folio-troubleshooting",
            "API_KEYS": f"ops:{KEY}",
            "DB_POOL_SIZE": "1",
            "DB_MAX_OVERFLOW": "0",
            "DB_POOL_TIMEOUT": "0.5",
        }
    )
    db = Database.from_settings(settings, application_name="folio-troubleshooting")
    client = create_redis(settings)
    app = create_app(settings, db, client, create_broker(settings, client), PostgresBlobStore())
    try:
        with db.engine.connect():  # the pool's only connection, held for the whole test
            yield falcon.testing.TestClient(app)
    finally:
        db.engine.dispose()
        client.close()


def test_exhausted_pool_answers_503_unavailable_never_500(
    exhausted_api: falcon.testing.TestClient,
) -> None:
    with logged_lines(logging.INFO, service="api") as captured:
        response = exhausted_api.simulate_get(
            "/api/v1/jobs", headers={"Authorization": f"Bearer {KEY}"}
        )
    assert response.status_code == 503
    assert response.headers["retry-after"]
    assert response.headers["content-type"] == "application/problem+json"
    produced = [*captured.lines(), response.json]
    assert_quoted(quoted("pool-exhausted"), produced)


def test_every_check_block_in_the_doc_has_a_test() -> None:
    tested = {
        "missing-variable",
        "bad-value",
        "database-unreachable",
        "redis-tls-mismatch",
        "pool-exhausted",
    }
    assert {m["name"] for m in BLOCK.finditer(DOC.read_text())} == tested
