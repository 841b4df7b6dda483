"""A real sandbox child under its limits: results and failures cross the pipe typed, a
crash or a kill is blamed correctly, and the child is replaced when it must be.

Every test starts a sandbox process (from the forkserver), hence ``slow``; none depends on
the machine's speed: the wall-time tests use a task that blocks, or a document whose
extraction cannot finish at all.
"""

from __future__ import annotations

import importlib.metadata
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from folio_common.errors import ErrorCode, JobError
from testsupport.pdfs import make_endless_pdf, make_pdf, page_text
from testsupport.sandbox_tasks import (
    BlockTask,
    ContextTask,
    FailTask,
    GcTask,
    PidTask,
    SignalTask,
)

from folio_worker.sandbox import PRELOAD, Cancelled, Sandbox, SandboxPool, SandboxStopped
from folio_worker.tasks import ExtractTask

pytestmark = pytest.mark.slow

#: Generous: a task that finishes at all finishes well inside it on any machine.
TIME_LIMIT_S = 60.0
#: What the blocking tasks are given: they never finish, so any value proves the kill.
SHORT_LIMIT_S = 0.5


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    box = Sandbox(memory_limit_mb=1024, time_limit_s=TIME_LIMIT_S, max_tasks=3)
    yield box
    box.close()


def test_a_task_round_trip_returns_its_typed_result(sandbox: Sandbox, tmp_path: Path) -> None:
    source = tmp_path / "source.pdf"
    source.write_bytes(make_pdf(3))
    pages = sandbox.run(ExtractTask(str(source), "pdfminer", None, (1, 3), (0, 2)))
    assert [(n, text.strip()) for n, text in pages] == [(1, page_text(1)), (3, page_text(3))]


def test_a_job_error_is_raised_and_the_child_is_reused(sandbox: Sandbox) -> None:
    pid = sandbox.run(PidTask())
    with pytest.raises(JobError) as failure:
        sandbox.run(FailTask(ErrorCode.PASSWORD_REQUIRED, "needs a password"))
    assert failure.value.code == ErrorCode.PASSWORD_REQUIRED
    assert sandbox.run(PidTask()) == pid


@pytest.mark.parametrize(
    ("signum", "code"),
    [(signal.SIGSEGV, ErrorCode.INVALID_PDF), (signal.SIGKILL, ErrorCode.MEMORY_LIMIT)],
)
def test_a_crash_is_mapped_to_its_code_and_a_new_child_takes_over(
    sandbox: Sandbox, signum: int, code: ErrorCode
) -> None:
    pid = sandbox.run(PidTask())
    with pytest.raises(JobError) as failure:
        sandbox.run(SignalTask(signum))
    assert failure.value.code == code
    assert sandbox.run(PidTask()) != pid


def test_a_task_that_blocks_is_killed_at_its_wall_time(sandbox: Sandbox) -> None:
    pid = sandbox.run(PidTask())
    with pytest.raises(JobError) as failure:
        sandbox.run(BlockTask(), time_limit_s=SHORT_LIMIT_S)
    assert failure.value.code == ErrorCode.TIMEOUT
    assert sandbox.run(PidTask()) != pid


def test_a_document_whose_extraction_never_ends_times_out(sandbox: Sandbox, tmp_path: Path) -> None:
    source = tmp_path / "endless.pdf"
    source.write_bytes(make_endless_pdf())
    with pytest.raises(JobError) as failure:
        sandbox.run(ExtractTask(str(source), "pdfminer", None, (1,), (0,)), time_limit_s=1)
    assert failure.value.code == ErrorCode.TIMEOUT


def test_a_cancelled_job_stops_its_task(sandbox: Sandbox) -> None:
    ticks: list[int] = []

    def on_tick() -> bool:
        ticks.append(1)
        return len(ticks) < 2  # cancelled at the second heartbeat

    with pytest.raises(Cancelled):
        sandbox.run(BlockTask(), on_tick=on_tick, tick_s=0.05)
    assert len(ticks) == 2


def test_the_log_context_of_the_calling_thread_reaches_the_child(sandbox: Sandbox) -> None:
    from folio_common.logs import bound_contextvars

    with bound_contextvars(job_id="job-1", request_id="req-1"):
        assert sandbox.run(ContextTask()) == {"job_id": "job-1", "request_id": "req-1"}


def test_a_child_is_recycled_after_max_tasks(sandbox: Sandbox) -> None:
    pids = [sandbox.run(PidTask()) for _ in range(4)]  # max_tasks=3
    assert pids[0] == pids[1] == pids[2] != pids[3]


def test_a_new_child_keeps_what_the_forkserver_loaded_away_from_the_collector(
    sandbox: Sandbox,
) -> None:
    """The preloaded modules are frozen: no collection in the child walks them (which
    wrote to every shared page and cost a new sandbox's task ~45 ms)."""
    frozen, tracked = sandbox.run(GcTask())
    assert frozen > 10 * tracked


def test_a_closed_pool_refuses_new_tasks() -> None:
    pool = SandboxPool(memory_limit_mb=1024, time_limit_s=TIME_LIMIT_S, max_tasks=3)
    box = pool.get()
    box.run(PidTask())
    pool.close()
    with pytest.raises(SandboxStopped):
        box.run(PidTask())


def test_rerunning_the_worker_script_in_a_new_sandbox_imports_nothing_new() -> None:
    """Without the fix for CPython gh-126631 (3.11, 3.12) each new sandbox re-runs the
    worker's console script; it must find every module the script imports already loaded
    by the forkserver, or each new sandbox pays for the imports (0.3 s) before its task."""
    script = importlib.metadata.entry_points(group="console_scripts")["folio-worker"]
    probe = (
        "import sys\n"
        f"for name in {[m for m in PRELOAD if m != '__main__']!r}:\n"
        "    __import__(name)\n"
        "before = set(sys.modules)\n"
        f"import {script.module}\n"
        "print(sorted(set(sys.modules) - before))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
