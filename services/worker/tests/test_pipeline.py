"""A real worker process runs jobs end to end: small, split into parts, broken, encrypted."""

from __future__ import annotations

import json
import os
import subprocess
from typing import Any

import pytest
from folio_common import jobs
from folio_common.database import Database
from folio_common.lifecycle import JobStatus
from folio_common.settings import Settings
from sqlalchemy import text
from testsupport import jobs as tj
from testsupport.pdfs import make_pdf, page_text
from testsupport.procs import BIN, Service, wait_until

pytestmark = pytest.mark.slow  # a real worker process


@pytest.mark.parametrize("engine", ["pdfminer", "pdfium"])
def test_small_job_succeeds_with_each_page_text(
    settings: Settings, db: Database, worker: Service, engine: str
) -> None:
    job_id = tj.submit(settings, db, make_pdf(3, title="Three pages"), engine=engine)
    job = tj.wait_terminal(db, job_id)
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    assert [(n, text.strip()) for n, text, _ in tj.pages(db, job_id)] == [
        (n, page_text(n)) for n in (1, 2, 3)
    ]
    assert job.metadata is not None and job.metadata["title"] == "Three pages"
    assert job.metadata["page_count"] == 3 and job.parts_total == 1
    assert job.pages_done == job.pages_total == 3

    # The pages are on the "job finished" line (written just after the commit): no
    # "part done" line for a job of one part.
    wait_until(lambda: "job finished" in messages(job_log(worker, job_id)), timeout=10)
    lines = job_log(worker, job_id)
    assert messages(lines) == ["job claimed", "job finished"]
    assert lines[-1]["pages"] == 3


def test_large_job_is_split_into_parts_and_every_page_lands_once(
    settings: Settings, db: Database, worker: Service
) -> None:
    job_id = tj.submit(settings, db, make_pdf(45))
    job = tj.wait_terminal(db, job_id)
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    assert job.parts_total == job.parts_done == 5  # PART_PAGES=10
    pages = tj.pages(db, job_id)
    assert [n for n, _, _ in pages] == list(range(1, 46))
    assert all(text.strip() == page_text(n) for n, text, _ in pages)
    # Parts read the source (no part blobs), downloaded once by the one worker process.
    assert messages(job_log(worker, job_id)).count("source downloaded") == 1


def test_an_encrypted_large_job_is_split_and_its_parts_open_the_source(
    settings: Settings, db: Database, worker: Service
) -> None:
    job_id = tj.submit(settings, db, make_pdf(25, password="s3cret"), password="s3cret")
    job = tj.wait_terminal(db, job_id)
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    assert job.parts_total == 3
    assert [text.strip() for _, text, _ in tj.pages(db, job_id)] == [
        page_text(n) for n in range(1, 26)
    ]


def test_pages_option_selects_pages(settings: Settings, db: Database, worker: Service) -> None:
    job_id = tj.submit(settings, db, make_pdf(30), pages="2-3,25,99")
    job = tj.wait_terminal(db, job_id)
    assert job.status == JobStatus.SUCCEEDED
    assert [n for n, _, _ in tj.pages(db, job_id)] == [2, 3, 25]
    assert job.page_count == 30 and job.pages_total == 3


@pytest.mark.parametrize(
    ("password", "status", "code"),
    [
        (None, JobStatus.FAILED, "password_required"),
        ("wrong", JobStatus.FAILED, "wrong_password"),
        ("s3cret-pdf", JobStatus.SUCCEEDED, None),
    ],
)
def test_encrypted_pdf_needs_its_password(
    settings: Settings,
    db: Database,
    worker: Service,
    password: str | None,
    status: str,
    code: str | None,
) -> None:
    options = {"password": password} if password else {}
    job_id = tj.submit(settings, db, make_pdf(12, password="s3cret-pdf"), **options)
    job = tj.wait_terminal(db, job_id)
    assert (job.status, job.error_code) == (status, code)
    assert job.attempts == 1  # permanent errors are not retried
    assert job.options.password is None  # dropped once the job ends
    assert "s3cret-pdf" not in worker.log_text()
    if status == JobStatus.SUCCEEDED:
        assert len(tj.pages(db, job_id)) == 12


def test_invalid_pdf_fails_at_once_with_its_code(
    settings: Settings, db: Database, worker: Service
) -> None:
    job_id = tj.submit(settings, db, b"%PDF-1.7\nnot really a PDF\n")
    job = tj.wait_terminal(db, job_id)
    assert (job.status, job.error_code, job.attempts) == (JobStatus.FAILED, "invalid_pdf", 1)
    assert job.error_message and "/tmp" not in job.error_message


def test_message_delivered_twice_gives_one_set_of_pages(
    settings: Settings, db: Database, worker: Service
) -> None:
    # Three copies race on the worker's two threads (and the sweeper may send a fourth).
    job_id = tj.insert(db, make_pdf(25))
    for _ in range(3):
        tj.enqueue(settings, job_id)
    job = tj.wait_terminal(db, job_id)
    assert job.status == JobStatus.SUCCEEDED
    assert [n for n, _, _ in tj.pages(db, job_id)] == list(range(1, 26))
    assert job.parts_done == job.parts_total == 3


def test_finished_job_ignores_late_messages(
    settings: Settings, db: Database, worker: Service
) -> None:
    job_id = tj.submit(settings, db, make_pdf(2))
    first = tj.wait_terminal(db, job_id)
    tj.enqueue(settings, job_id)
    # A later job on the same queue proves the late message was consumed by then.
    tj.wait_terminal(db, tj.submit(settings, db, make_pdf(1)))
    again = db.transaction(jobs.get_job, job_id)
    assert again is not None and (again.attempts, again.finished_at) == (
        first.attempts,
        first.finished_at,
    )


def test_job_never_enqueued_is_picked_up_by_the_sweeper(
    settings: Settings, db: Database, worker: Service
) -> None:
    job_id = tj.insert(db, make_pdf(2))  # as if Redis was down at submission
    job = tj.wait_terminal(db, job_id, timeout=30)
    assert job.status == JobStatus.SUCCEEDED


def test_cancelled_job_stops_at_the_next_boundary(
    settings: Settings, db: Database, worker: Service
) -> None:
    # Three parts that finish, and a fourth whose extraction never ends on any machine:
    # only the cancel can stop it.
    job_id = tj.submit(settings, db, make_pdf(40, endless_from=31))

    def endless_part_running() -> bool:
        claimed = db.transaction(
            lambda conn: conn.execute(
                text("SELECT claimed_at FROM job_parts WHERE job_id = :id AND part_no = 3"),
                {"id": job_id},
            ).scalar()
        )
        return claimed is not None and db.transaction(jobs.get_job, job_id).pages_done == 30

    wait_until(endless_part_running, timeout=60, interval=0.05)
    cancelled = tj.end(db, settings, job_id, JobStatus.CANCELLED)
    assert cancelled is not None
    wait_until(
        lambda: "job cancelled while running" in messages(job_log(worker, job_id)), timeout=30
    )
    job = db.transaction(jobs.get_job, job_id)
    assert (job.status, job.error_code) == (JobStatus.CANCELLED, "cancelled")
    assert job.pages_done == 30  # nothing recorded after the cancel
    assert tj.wait_terminal(db, tj.submit(settings, db, make_pdf(1))).status == JobStatus.SUCCEEDED


def test_normal_documents_log_no_warning_and_each_line_names_its_job(
    settings: Settings, db: Database, worker: Service
) -> None:
    """A permission-restricted document, and one with form fields split into parts: no
    warning; the sandbox's own line about the permissions carries the job's ids."""
    start = len(worker.log_text())
    restricted = tj.submit(settings, db, make_pdf(3, restricted=True))
    split = tj.submit(settings, db, make_pdf(25, form=True))
    for job_id in (restricted, split):
        assert tj.wait_terminal(db, job_id).status == JobStatus.SUCCEEDED
    lines = [json.loads(line) for line in worker.log_text()[start:].splitlines()]
    assert [line for line in lines if line["level"] not in ("debug", "info")] == []
    (permission,) = [line for line in lines if "permissions forbid" in line["message"]]
    assert permission["level"] == "info"
    assert (permission["job_id"], permission["request_id"]) == (restricted, f"req-{restricted[:8]}")


def job_log(worker: Service, job_id: str) -> list[dict[str, Any]]:
    """The worker's log lines about one job, parsed."""
    return [json.loads(line) for line in worker.log_text().splitlines() if job_id in line]


def messages(lines: list[dict[str, Any]]) -> list[str]:
    return [line["message"] for line in lines]


def test_healthcheck_reports_a_live_worker_on_this_host(
    env: dict[str, str], worker: Service
) -> None:
    ok = subprocess.run([str(BIN / "folio-worker"), "healthcheck"], env={**os.environ, **env},
                        capture_output=True, check=False)  # fmt: skip
    assert ok.returncode == 0, ok.stdout
    nobody = {**os.environ, **env, "REDIS_NAMESPACE": env["REDIS_NAMESPACE"] + "-empty"}
    dead = subprocess.run([str(BIN / "folio-worker"), "healthcheck"], env=nobody,
                          capture_output=True, check=False)  # fmt: skip
    assert dead.returncode == 1
    assert (
        json.loads(dead.stdout.splitlines()[-1])["message"] == "no live worker process on this host"
    )
