"""``folio-api serve``: bad settings exit 2, unreachable dependencies exit 1, else gunicorn."""

from __future__ import annotations

import json
import os
import signal
import subprocess

import pytest
import requests
from testsupport.procs import BIN, ROOT, Service, free_port, wait_until

pytestmark = pytest.mark.slow


def run_serve(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "folio-api"), "serve", *args],
        env={**os.environ, **env},
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )


def test_bad_setting_exits_2_with_one_line(env):
    done = run_serve({**env, "PORT": "eighty"})
    assert done.returncode == 2
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1
    assert json.loads(lines[0])["variable"] == "PORT"


def test_unreachable_database_exits_1_without_leaking_the_password(env):
    url = "postgresql://folio:hunter2-secret@127.0.0.1:1/folio"
    done = run_serve({**env, "DATABASE_URL": url}, "--wait-s", "1")
    assert done.returncode == 1
    assert "postgres unreachable" in done.stdout
    assert "hunter2-secret" not in done.stdout + done.stderr


def test_serve_becomes_gunicorn_and_stops_on_sigterm(env, tmp_path):
    port = free_port()
    service = Service(
        "serve", [str(BIN / "folio-api"), "serve"], {**env, "PORT": str(port)}, tmp_path
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: requests.get(base + "/api/v1/health/live", timeout=1).ok, timeout=30)
        assert requests.get(base + "/api/v1/health", timeout=10).json()["status"] == "ok"
        service.signal(signal.SIGTERM)  # straight to gunicorn's master: it was exec'd
        assert service.proc.wait(30) == 0
    finally:
        service.stop()
    log = service.log_text()
    assert "Shutting down: Master" in log
    lines = [json.loads(line) for line in log.splitlines()]  # gunicorn's lines are JSON too
    # One access line per request, the app's (with the route): gunicorn writes none.
    access = [line for line in lines if "access" in line.get("logger", "")]
    health = [line for line in access if line.get("path") == "/api/v1/health"]
    assert len(health) == 1 and all(line["logger"] == "folio.api.access" for line in access)
