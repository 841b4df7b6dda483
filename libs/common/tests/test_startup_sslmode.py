"""``DB_SSLMODE`` holds on every start-up path: each entry point refuses a server without TLS.

The local PostgreSQL has no TLS, so with ``DB_SSLMODE=require`` (and a URL without
``sslmode``, as on a Supabase deployment) every command must fail, saying why, instead
of falling back to plain text or waiting for a minute as if the database were down.
"""

from __future__ import annotations

import os
import signal
import subprocess

import pytest

from testsupport.procs import BIN, ROOT

#: Far below every command's own dependency wait (60 s and more): a command still
#: running by then is retrying (or serving), not failing.
FAIL_WITHIN_S = 45

COMMANDS = {
    "migrate apply": [str(BIN / "folio-migrate"), "apply"],
    "migrate verify": [str(BIN / "folio-migrate"), "verify"],
    "folio health": [str(BIN / "folio"), "health"],
    "api serve": [str(BIN / "folio-api"), "serve", "--wait-s", "120"],
    "worker run": [str(BIN / "folio-worker"), "run"],
}


@pytest.mark.slow
@pytest.mark.parametrize("argv", COMMANDS.values(), ids=COMMANDS.keys())
def test_command_fails_naming_ssl_when_the_server_has_no_tls(
    env: dict[str, str], argv: list[str]
) -> None:
    assert "sslmode" not in env["DATABASE_URL"]
    proc = subprocess.Popen(
        argv,
        env={**env, "DB_SSLMODE": "require", "PORT": "0"},
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # a server it started (gunicorn) is stopped with it
    )
    try:
        output, _ = proc.communicate(timeout=FAIL_WITHIN_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate()
        pytest.fail(f"still running after {FAIL_WITHIN_S}s: {output!r}")
    assert proc.returncode != 0, output
    assert "server does not support SSL" in output
