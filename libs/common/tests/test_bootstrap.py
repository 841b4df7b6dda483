"""``start_process``: what every entry point gets from its first call, run in a fresh
interpreter (it configures process-wide logging and the excepthook)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.slow  # each test runs a fresh interpreter

DB_PASSWORD = "boot-db-pw-4321"

CRASH = textwrap.dedent(
    f"""
    from folio_common.bootstrap import start_process
    start_process("boot-test")
    raise RuntimeError("cannot log in with {DB_PASSWORD}")
    """
)

QUIET = textwrap.dedent(
    """
    import logging
    from folio_common.bootstrap import start_process
    start_process("cli", quiet=True)
    logging.getLogger("folio.test").info("not shown")
    logging.getLogger("folio.test").warning("a library warning")
    print("the result")
    """
)


def _run(code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, **env, "LOG_FORMAT": "json"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_crash_is_one_redacted_json_line_under_the_service_name(env: dict[str, str]) -> None:
    url = env["DATABASE_URL"].replace("postgres@", f"postgres:{DB_PASSWORD}@", 1)
    proc = _run(CRASH, {**env, "DATABASE_URL": url})
    assert proc.returncode == 1
    assert proc.stderr == ""  # no bare traceback
    (line,) = [json.loads(raw) for raw in proc.stdout.splitlines()]
    assert (line["level"], line["message"], line["service"]) == (
        "critical",
        "uncaught exception",
        "boot-test",
    )
    assert "RuntimeError: cannot log in with [redacted]" in line["exception"]
    assert DB_PASSWORD not in proc.stdout


def test_quiet_mode_keeps_stdout_for_the_result(env: dict[str, str]) -> None:
    proc = _run(QUIET, env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "the result\n"
    assert "a library warning" in proc.stderr
    assert "not shown" not in proc.stderr
