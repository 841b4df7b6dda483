"""The sandbox protocol without a process: what the child makes of a task, what the parent
makes of a reply or of the child's death, and that no normal document logs a warning.

The child's side (:func:`perform`) and the parent's (:func:`unwrap`, :func:`exit_error`)
are plain functions; messages cross the pipe pickled, so they are round-tripped here too.
"""

from __future__ import annotations

import pickle
import signal
from pathlib import Path
from typing import Any

import pikepdf
import pytest
from folio_common.errors import ErrorCode, JobError
from folio_common.logs import clear_contextvars
from testsupport.logs import logged_lines
from testsupport.pdfs import make_pdf, page_text
from testsupport.sandbox_tasks import ContextTask, FailTask, RaiseTask, WarnTask

from folio_worker.extraction import Plan
from folio_worker.sandbox import exit_error
from folio_worker.sandbox_protocol import Crashed, Failed, Request, perform, unwrap
from folio_worker.tasks import ExtractTask, InspectTask

MEMORY_LIMIT_MB = 512
CONTEXT = {"job_id": "job-123", "request_id": "req-456"}


def round_trip(value: Any) -> Any:
    """What the other end of the pipe receives."""
    return pickle.loads(pickle.dumps(value))


def run(task: Any, context: dict[str, Any] | None = None) -> Any:
    """A task through both ends of the protocol, as the pipe carries it."""
    request = round_trip(Request(task, context or {}))
    return unwrap(round_trip(perform(request, MEMORY_LIMIT_MB)))


def test_a_task_result_comes_back_typed(tmp_path: Path) -> None:
    source = tmp_path / "source.pdf"
    source.write_bytes(make_pdf(2, title="Typed"))
    task = InspectTask(str(source), None, None, 10, 10, engine="pdfium")
    plan = run(task)
    assert isinstance(plan, Plan) and plan.metadata["title"] == "Typed"
    pages = run(ExtractTask(str(source), "pdfminer", None, pages=(2,), indexes=(1,)))
    assert [(n, text.strip()) for n, text in pages] == [(2, page_text(2))]


def test_a_job_error_in_the_child_is_raised_in_the_parent_with_its_code() -> None:
    reply = perform(Request(FailTask(ErrorCode.WRONG_PASSWORD, "no")), MEMORY_LIMIT_MB)
    assert reply == Failed(ErrorCode.WRONG_PASSWORD, "no")
    with pytest.raises(JobError) as failure:
        unwrap(round_trip(reply))
    assert (failure.value.code, failure.value.message) == (ErrorCode.WRONG_PASSWORD, "no")


@pytest.mark.parametrize(
    ("exception", "code"),
    [
        (MemoryError(), ErrorCode.MEMORY_LIMIT),
        (RecursionError(), ErrorCode.INVALID_PDF),
    ],
)
def test_resource_exhaustion_in_the_child_is_the_documents_failure(
    exception: BaseException, code: ErrorCode
) -> None:
    reply = perform(Request(RaiseTask(exception)), MEMORY_LIMIT_MB)
    assert isinstance(reply, Failed) and reply.code == code


def test_a_bug_in_the_child_is_not_blamed_on_the_document() -> None:
    reply = perform(Request(RaiseTask(ValueError("oops"))), MEMORY_LIMIT_MB)
    assert reply == Crashed("ValueError: oops")
    with pytest.raises(RuntimeError, match="ValueError: oops"):
        unwrap(reply)


@pytest.mark.parametrize(
    ("exitcode", "code"),
    [
        (-signal.SIGXCPU, ErrorCode.TIMEOUT),
        (-signal.SIGKILL, ErrorCode.MEMORY_LIMIT),
        (-signal.SIGABRT, ErrorCode.MEMORY_LIMIT),
        (-signal.SIGSEGV, ErrorCode.INVALID_PDF),
        (1, ErrorCode.INTERNAL),
        (None, ErrorCode.INTERNAL),
    ],
)
def test_a_dead_child_is_mapped_to_its_code(exitcode: int | None, code: ErrorCode) -> None:
    assert exit_error(exitcode).code == code


def test_the_jobs_log_context_is_bound_while_the_task_runs() -> None:
    clear_contextvars()  # as in a fresh sandbox child: nothing bound but what is sent
    assert run(ContextTask(), CONTEXT) == CONTEXT
    assert run(ContextTask()) == {}  # and unbound afterwards


def test_library_warnings_become_one_debug_line_each() -> None:
    with logged_lines() as captured:
        assert run(WarnTask(pikepdf.PageCopyWarning, "first line\n  second line"), CONTEXT)
    [line] = captured.lines()  # warned twice, logged once
    assert line["level"] == "debug"
    assert line["message"] == "library warning: PageCopyWarning: first line"
    assert {k: line[k] for k in CONTEXT} == CONTEXT


def test_normal_documents_log_no_warning_and_say_which_job(tmp_path: Path) -> None:
    """A permission-restricted document, and one with form fields cut into parts (read
    from the source): the extraction logs nothing at warning, and its lines carry the
    job's ids."""
    with logged_lines() as captured:
        for n, data in enumerate([make_pdf(3, restricted=True), make_pdf(25, form=True)]):
            source = tmp_path / f"source-{n}.pdf"
            source.write_bytes(data)
            plan = run(InspectTask(str(source), None, None, 100, 10, "pdfminer"), CONTEXT)
            for part in plan.parts:
                indexes = tuple(n - 1 for n in part.pages)
                task = ExtractTask(str(source), "pdfminer", None, tuple(part.pages), indexes)
                run(task, CONTEXT)
    lines = captured.lines()
    assert [line for line in lines if line["level"] in ("warning", "error", "critical")] == []
    assert [line for line in lines if "Warning" in line["message"]] == []  # none to capture
    permission = [line for line in lines if "permissions forbid" in line["message"]]
    assert len(permission) == 1
    assert permission[0]["level"] == "info"
    assert {k: permission[0][k] for k in CONTEXT} == CONTEXT
