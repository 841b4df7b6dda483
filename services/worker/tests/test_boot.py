"""Importing the worker's modules connects to nothing and starts no thread.

Dramatiq imports :mod:`folio_worker.boot` and the actors in every worker process; the
runtime (database, Redis, sandboxes) must be built when the process boots, never at
import. The proof: ``DATABASE_URL`` and ``REDIS_URL`` point at a listener that records
every connection, and a fresh interpreter imports the actors.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import pytest
from testsupport.imports import ConnectionRecorder, run_python, state_after_import
from testsupport.procs import ROOT

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


@pytest.fixture
def recorder() -> Iterator[ConnectionRecorder]:
    listener = ConnectionRecorder()
    yield listener
    listener.close()


@pytest.mark.slow
def test_importing_the_actors_opens_no_connection_and_starts_no_thread(
    env: dict[str, str], recorder: ConnectionRecorder
) -> None:
    state = state_after_import("folio_worker.actors", {**env, **recorder.env()})
    assert state == {"threads": 1, "sockets": 0}
    assert recorder.accepted == 0

    # The same settings do reach the recorder once the process connects: the test above
    # would see an import that connected.
    run_python(CONNECT_AFTER_IMPORT, {**env, **recorder.env()})
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
