"""Structured logging, run in a subprocess (configure_logging mutates global state)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from typing import Any

import pytest

pytestmark = pytest.mark.slow  # each test reads the lines of real API and worker processes

DB_PASSWORD = "db-pass-1234"
REDIS_PASSWORD = "redis-pass-5678"
UNREGISTERED_PASSWORD = "url-only-pw-999"

SCRIPT = textwrap.dedent(
    f"""
    import logging
    from folio_common.bootstrap import start_process
    from folio_common.logs import bind_contextvars, bound_contextvars, get_logger

    start_process("folio-test")
    log = get_logger("folio.test")

    log.info("plain line")
    bind_contextvars(request_id="req-123")
    with bound_contextvars(job_id="job-456"):
        log.info("inside job", pages=3)
        logging.getLogger("dramatiq.worker").warning("stdlib %s line", "dramatiq")
    logging.getLogger("sqlalchemy.engine").warning("engine line")
    log.info("secret in text: {DB_PASSWORD} and {REDIS_PASSWORD}")
    log.info("secret keys", password="pw-value", api_key="key-value",
             Authorization="Bearer token-value", nested={{"password": "nested-value"}})
    try:
        raise RuntimeError("cannot reach postgresql://folio:{UNREGISTERED_PASSWORD}@db:5432/x")
    except RuntimeError:
        log.exception("structlog exception")
        logging.getLogger("dramatiq").exception("stdlib exception")
    logging.getLogger("gunicorn.error").info("url %s", "redis://:{UNREGISTERED_PASSWORD}@r:6379")
    """
)


def _run(env: dict[str, str], **extra: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        check=False,
        env={**os.environ, **env, **extra},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return proc


@pytest.fixture(scope="module")
def json_lines() -> list[dict[str, Any]]:
    env = {
        "DATABASE_URL": f"postgresql://folio:{DB_PASSWORD}@127.0.0.1:5432/folio",
        "REDIS_URL": f"redis://:{REDIS_PASSWORD}@127.0.0.1:6379/0",
        "LOG_FORMAT": "json",
    }
    proc = _run(env)
    for secret in (DB_PASSWORD, REDIS_PASSWORD, UNREGISTERED_PASSWORD):
        assert secret not in proc.stdout
        assert secret not in proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines()]


def _line(lines: list[dict[str, Any]], message: str) -> dict[str, Any]:
    found = [line for line in lines if line["message"].startswith(message)]
    assert len(found) == 1, (message, lines)
    return found[0]


def test_every_line_is_json_with_the_railway_and_folio_keys(
    json_lines: list[dict[str, Any]],
) -> None:
    assert len(json_lines) == 9
    for line in json_lines:
        assert {"message", "level", "timestamp", "logger", "service"} <= set(line)
        assert line["service"] == "folio-test"
        assert line["timestamp"].endswith("Z")
    plain = _line(json_lines, "plain line")
    assert (plain["level"], plain["logger"]) == ("info", "folio.test")
    assert "event" not in plain


def test_stdlib_loggers_render_through_the_same_json(json_lines: list[dict[str, Any]]) -> None:
    dramatiq = _line(json_lines, "stdlib dramatiq line")
    assert (dramatiq["logger"], dramatiq["level"]) == ("dramatiq.worker", "warning")
    engine = _line(json_lines, "engine line")
    assert (engine["logger"], engine["level"]) == ("sqlalchemy.engine", "warning")
    assert _line(json_lines, "url ")["logger"] == "gunicorn.error"


def test_bound_context_variables_appear_on_every_kind_of_line(
    json_lines: list[dict[str, Any]],
) -> None:
    inside = _line(json_lines, "inside job")
    assert (inside["request_id"], inside["job_id"], inside["pages"]) == ("req-123", "job-456", 3)
    stdlib = _line(json_lines, "stdlib dramatiq line")
    assert (stdlib["request_id"], stdlib["job_id"]) == ("req-123", "job-456")
    after = _line(json_lines, "engine line")
    assert after["request_id"] == "req-123"
    assert "job_id" not in after
    assert "request_id" not in _line(json_lines, "plain line")


def test_registered_secrets_and_url_passwords_are_redacted(
    json_lines: list[dict[str, Any]],
) -> None:
    text = _line(json_lines, "secret in text")
    assert text["message"] == "secret in text: [redacted] and [redacted]"
    for message in ("structlog exception", "stdlib exception"):
        line = _line(json_lines, message)
        assert (
            "RuntimeError: cannot reach postgresql://folio:[redacted]@db:5432/x"
            in (line["exception"])
        )
    assert _line(json_lines, "url ")["message"] == "url redis://:[redacted]@r:6379"


def test_secret_keys_are_redacted_wherever_they_appear(json_lines: list[dict[str, Any]]) -> None:
    line = _line(json_lines, "secret keys")
    assert line["password"] == "[redacted]"
    assert line["api_key"] == "[redacted]"
    assert line["Authorization"] == "[redacted]"
    assert line["nested"] == {"password": "[redacted]"}
    assert "value" not in json.dumps(line)


def test_console_format_gives_readable_non_json_lines() -> None:
    proc = _run(
        {
            "DATABASE_URL": f"postgresql://folio:{DB_PASSWORD}@127.0.0.1:5432/folio",
            "LOG_FORMAT": "console",
        }
    )
    lines = proc.stdout.splitlines()
    plain = next(line for line in lines if "plain line" in line)
    with pytest.raises(json.JSONDecodeError):
        json.loads(plain)
    assert "info" in plain
    assert any("inside job" in line and "req-123" in line for line in lines)
    # Tracebacks too: the console renderer formats them itself, after the redactor ran.
    assert "RuntimeError: cannot reach postgresql://folio:[redacted]@db:5432/x" in proc.stdout
    for secret in (DB_PASSWORD, UNREGISTERED_PASSWORD):
        assert secret not in proc.stdout + proc.stderr
