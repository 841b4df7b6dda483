"""Importing a module in a fresh interpreter, with its connections recorded.

``DATABASE_URL`` and ``REDIS_URL`` point at a :class:`ConnectionRecorder`, a TCP listener
that counts every connection: a module that connects at import shows up there, whatever
client it used.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from collections.abc import Mapping
from typing import Any

from testsupport.procs import ROOT

#: Run in the fresh interpreter after the import: what the import left running.
_REPORT = """
import json, os, threading
sockets = 0
for fd in os.listdir("/proc/self/fd"):
    try:
        sockets += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
    except OSError:
        pass
print(json.dumps({"threads": threading.active_count(), "sockets": sockets}))
"""


class ConnectionRecorder:
    """A TCP listener on 127.0.0.1 that accepts, counts and at once closes connections."""

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

    def env(self) -> dict[str, str]:
        """Settings that send the database and Redis to this recorder."""
        return {
            "DATABASE_URL": f"postgresql://folio:secret@127.0.0.1:{self.port}/folio",
            "REDIS_URL": f"redis://127.0.0.1:{self.port}/0",
            "DB_CONNECT_TIMEOUT": "2",
        }

    def close(self) -> None:
        self.sock.close()


def run_python(code: str, env: Mapping[str, str]) -> str:
    """Run ``code`` in a fresh interpreter from the repository root; its stdout."""
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=dict(env),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout


def state_after_import(module: str, env: Mapping[str, str]) -> dict[str, Any]:
    """Threads running and sockets open in a fresh interpreter right after ``import module``."""
    out = run_python(f"import {module}\n{_REPORT}", env)
    state: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return state
