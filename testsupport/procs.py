"""Starting and stopping the real service processes in tests."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
#: Per-key limits off, for processes driven far harder from one key than a tenant may be
#: (the limits have tests of their own, services/api/tests/test_key_limits.py).
NO_KEY_LIMITS = {
    "RATE_LIMIT_PER_MINUTE": "0",
    "MAX_CONCURRENT_UPLOADS": "0",
    "MAX_JOBS_IN_FLIGHT": "0",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def children(pid: int) -> list[int]:
    """Direct child processes of ``pid`` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError):
                stat = (entry / "stat").read_text()
                if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
    return found


def wait_until(
    predicate: Callable[[], object], timeout: float = 30.0, interval: float = 0.1
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if predicate():
                return
        time.sleep(interval)
    raise TimeoutError(f"condition not met within {timeout}s: {predicate}")


class Service:
    """A child process whose output goes to a log file the test can read."""

    def __init__(self, name: str, argv: list[str], env: Mapping[str, str], log_dir: Path) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            argv,
            env={**os.environ, **env},
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            start_new_session=True,
        )

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def stop(self, timeout: float = 30.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._log.close()
        return self.proc.returncode


def start_api(
    env: Mapping[str, str], log_dir: Path, port: int | None = None
) -> tuple[Service, str]:
    port = port or free_port()
    service = Service(
        "api",
        [
            str(BIN / "gunicorn"),
            "-c",
            str(ROOT / "services/api/gunicorn.conf.py"),
            "folio_api.wsgi:app",
        ],
        {**env, "PORT": str(port)},
        log_dir,
    )
    base = f"http://127.0.0.1:{port}"
    wait_until(lambda: requests.get(base + "/api/v1/health/live", timeout=1).ok, timeout=30)
    return service, base


def start_worker(env: Mapping[str, str], log_dir: Path, name: str = "worker") -> Service:
    service = Service(name, [str(BIN / "folio-worker"), "run"], env, log_dir)
    wait_until(lambda: "worker ready" in service.log_text(), timeout=60)
    return service


@contextlib.contextmanager
def folio_stack(env: Mapping[str, str], log_dir: Path) -> Iterator[str]:
    """The API and a worker, booted together (each takes seconds alone) and stopped
    together; yields the API's base URL."""
    worker = Service("worker", [str(BIN / "folio-worker"), "run"], env, log_dir)
    api, base = start_api(env, log_dir)
    try:
        wait_until(lambda: "worker ready" in worker.log_text(), timeout=60)
        yield base
    finally:
        worker.signal(signal.SIGTERM)
        api.stop()
        worker.stop()
