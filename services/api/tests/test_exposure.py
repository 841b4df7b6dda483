"""What the API exposes beyond its routes: the development key only on loopback, no
gunicorn control socket, ``nosniff`` on every response."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
import requests
from testsupport.procs import start_api

from folio_api.auth import DEV_KEY


@pytest.mark.parametrize(
    ("path", "key"),
    [
        ("/api/v1/jobs", "valid"),
        ("/api/v1/jobs", None),  # 401
        ("/api/v1/no-such-route", "valid"),  # 404
        ("/api/v1/health/live", None),
        ("/api/v1/openapi.json", None),
        ("/", None),
    ],
)
def test_every_response_says_nosniff(api, path, key):
    from conftest import TEST_API_KEY

    result = api.get(path, key=TEST_API_KEY if key else None)
    assert result.headers["x-content-type-options"] == "nosniff", (path, result.status_code)


@pytest.mark.slow
def test_the_development_key_listens_on_loopback_only(env, tmp_path: Path) -> None:
    runtime = tmp_path / "run"
    runtime.mkdir()
    dev_env = {**env, "API_KEYS": "", "FOLIO_ENV": "development", "XDG_RUNTIME_DIR": str(runtime)}
    service, base = start_api(dev_env, tmp_path)
    try:
        jobs = requests.get(
            f"{base}/api/v1/jobs", headers={"Authorization": f"Bearer {DEV_KEY}"}, timeout=10
        )
        assert jobs.status_code == 200
        port = int(base.rsplit(":", 1)[1])
        # Bound to 127.0.0.1 alone: the IPv6 wildcard (and so any other interface) is shut.
        with pytest.raises(OSError), socket.create_connection(("::1", port), timeout=2):
            pass
        log = service.log_text()
        assert "listens on 127.0.0.1 only" in log
        assert f'"bind": ["127.0.0.1:{port}"]' in log
        # No control socket at gunicorn's default path (shared by every instance on a host).
        assert not (runtime / "gunicorn.ctl").exists()
    finally:
        service.stop()


@pytest.mark.slow
def test_gunicorns_own_refusals_are_problem_json_with_nosniff(env, tmp_path: Path) -> None:
    service, base = start_api(env, tmp_path)
    host, port = base.removeprefix("http://").split(":")
    try:
        for request in (
            b"GARBAGE\r\n\r\n",  # not a request line
            b"GET /api/v1/jobs HTTP/9.9\r\nHost: x\r\n\r\n",  # no such version
            b"GET /api/v1/jobs HTTP/1.1\r\nBad Header\r\n\r\n",  # not a header
        ):
            with socket.create_connection((host, int(port)), timeout=10) as sock:
                sock.sendall(request)
                answer = b""
                while chunk := sock.recv(4096):
                    answer += chunk
            head, _, body = answer.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 4"), answer[:200]
            assert b"X-Content-Type-Options: nosniff" in head
            assert b"Content-Type: application/problem+json" in head
            problem = json.loads(body)
            assert problem["status"] == int(head.split()[1])
            assert problem["code"] == "validation_error"
    finally:
        service.stop()
