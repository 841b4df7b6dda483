"""``wait_for``: bounded waiting for a dependency at start-up, one log line per attempt."""

from __future__ import annotations

import json
import time

import pytest
from folio_common.settings import Settings
from folio_common.wait import DependencyUnavailable, wait_for, wait_for_database
from sqlalchemy import make_url

from testsupport.logs import LoggedLines
from testsupport.procs import free_port


def test_wait_for_gives_up_after_its_bound_logging_each_attempt(info_logs: LoggedLines) -> None:
    calls: list[float] = []

    def refuse() -> None:
        calls.append(time.monotonic())
        raise ConnectionRefusedError("connect to redis://:redis-pw-42@127.0.0.1:1 refused")

    started = time.monotonic()
    with pytest.raises(DependencyUnavailable) as caught:
        wait_for("redis", refuse, max_time_s=1.0)
    elapsed = time.monotonic() - started
    assert 0.5 < elapsed < 1.5
    assert len(calls) >= 2
    message = str(caught.value)
    assert message.startswith("redis unreachable after 1s: ConnectionRefusedError")
    assert "redis-pw-42" not in message

    lines = info_logs.lines("folio.wait")
    assert [line["attempt"] for line in lines] == list(range(1, len(calls) + 1))
    assert all(line["dependency"] == "redis" for line in lines)
    assert all("redis-pw-42" not in json.dumps(line) for line in lines)
    assert [line["level"] for line in lines] == ["warning"] * (len(calls) - 1) + ["error"]


def test_wait_for_returns_once_the_dependency_answers(info_logs: LoggedLines) -> None:
    calls = 0

    def flaky() -> None:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise OSError("not yet")

    wait_for("postgres", flaky, max_time_s=10)
    assert calls == 3
    lines = info_logs.lines("folio.wait")
    assert [line["level"] for line in lines] == ["warning", "warning", "info"]
    assert lines[-1]["message"] == "postgres is reachable"


def test_database_wait_fails_at_once_when_the_server_refuses_the_tls_sslmode_demands(
    env: dict[str, str], info_logs: LoggedLines
) -> None:
    # The local PostgreSQL has no TLS: with DB_SSLMODE=require no retry can succeed.
    settings = Settings.from_env({**env, "DB_SSLMODE": "require"})
    with pytest.raises(DependencyUnavailable) as caught:
        wait_for_database(settings, max_time_s=300)
    assert str(caught.value).startswith("postgres refused the connection: OperationalError")
    assert "server does not support SSL" in str(caught.value)
    lines = info_logs.lines("folio.wait")
    assert [(line["level"], line["attempt"]) for line in lines] == [("error", 1)]
    assert "SSL" in lines[0]["error"]


def test_database_wait_retries_a_server_that_does_not_answer_yet(
    env: dict[str, str], info_logs: LoggedLines
) -> None:
    url = make_url(env["DATABASE_URL"]).set(port=free_port())
    settings = Settings.from_env({**env, "DATABASE_URL": url.render_as_string(False)})
    with pytest.raises(DependencyUnavailable) as caught:
        wait_for_database(settings, max_time_s=1.0)
    assert str(caught.value).startswith("postgres unreachable after 1s: OperationalError")
    assert len(info_logs.lines("folio.wait")) >= 2  # retried, then gave up
