"""Importing the worker's modules connects to nothing and starts no thread.

Dramatiq imports :mod:`folio_worker.boot` and the actors in every worker process; the
runtime (database, Redis, sandboxes) must be built when the process boots, never at
import. The proof: ``DATABASE_URL`` and ``REDIS_URL`` point at a listener that records
every connection, and a fresh interpreter imports the actors.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest
from testsupport.procs import ROOT

#: Run in a fresh interpreter: the import under test, then what it left running.
IMPORT_ACTORS = """
import json, os, threading
import folio_worker.actors
sockets = 0
for fd in os.listdir("/proc/self/fd"):
    try:
        sockets += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
    except OSError:
        pass
print(json.dumps({"threads": threading.active_count(), "sockets": sockets}))
"""

#: The control: the same settings do reach the listener once something connects.
CONNECT_AFTER_IMPORT = """
import contextlib
import folio_worker.actors
from folio_common.connections import Connections, Role
from folio_worker.boot import broker, settings
with contextlib.suppress(Exception):
    broker.client.ping()
with contextlib.suppress(Exception):
    Connections.for_role(settings, Role.WORKER).db.connect()
"""


class ConnectionRecorder:
    """A TCP listener that accepts, counts and at once closes every connection."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.sock.getsockname()[1]
        self.accepted = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            conn.close()

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def recorder() -> Iterator[ConnectionRecorder]:
    listener = ConnectionRecorder()
    yield listener
    listener.close()


def _run(code: str, env: dict[str, str], recorder: ConnectionRecorder) -> str:
    port = recorder.port
    child_env = {
        **env,
        "DATABASE_URL": f"postgresql://folio:secret@127.0.0.1:{port}/folio",
        "REDIS_URL": f"redis://127.0.0.1:{port}/0",
        "DB_CONNECT_TIMEOUT": "2",
    }
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=child_env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout


@pytest.mark.slow
def test_importing_the_actors_opens_no_connection_and_starts_no_thread(
    env: dict[str, str], recorder: ConnectionRecorder
) -> None:
    out = _run(IMPORT_ACTORS, env, recorder)
    state = json.loads(out.strip().splitlines()[-1])
    assert state == {"threads": 1, "sockets": 0}
    assert recorder.accepted == 0

    # The same settings do reach the recorder once the process connects: the test above
    # would see an import that connected.
    _run(CONNECT_AFTER_IMPORT, env, recorder)
    assert recorder.accepted >= 2  # Redis and PostgreSQL


#: ``folio-worker sweep`` in a fresh interpreter, then whether the sandbox was loaded.
SWEEP_ONCE = """
import json, multiprocessing, sys
from folio_worker.cli import main
code = main(["sweep"])
print(json.dumps({
    "code": code,
    "sandbox_loaded": "folio_worker.sandbox" in sys.modules,
    "runtime_loaded": "folio_worker.runtime" in sys.modules,
    "children": len(multiprocessing.active_children()),
}))
"""


@pytest.mark.slow
def test_sweep_command_sweeps_without_a_worker_runtime_or_sandbox(env: dict[str, str]) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SWEEP_ONCE],
        env={**env, "LOG_FORMAT": "json"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert any(
        line.get("message") in ("sweep done", "another process is sweeping; nothing done")
        for line in lines
    )
    assert lines[-1] == {"code": 0, "sandbox_loaded": False, "runtime_loaded": False, "children": 0}
