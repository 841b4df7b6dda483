"""The worker's decisions that need no process: which messages run, when a job gives up,
when a heartbeat says stop, and how a planned document is recorded.

The pipeline runs here in the test process against the real database and Redis. Its
sandbox pool is real too, but these paths must never reach it: a sandbox is a process,
which ``testsupport.slow_tests`` refuses in a test not marked slow.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from folio_common import jobs
from folio_common.blobs import PostgresBlobStore, source_key
from folio_common.broker import create_broker
from folio_common.database import Database
from folio_common.lifecycle import JobStatus, transitions
from folio_common.page_reads import ReadMethod
from folio_common.redis_client import create_redis
from folio_common.settings import Settings
from sqlalchemy import text
from testsupport import jobs as tj
from testsupport import scans
from testsupport.pdfs import make_pdf, page_text

from folio_worker import pipeline
from folio_worker.extraction import inspect
from folio_worker.runtime import Runtime
from folio_worker.sandbox import SandboxPool


@pytest.fixture
def rt(settings: Settings, db: Database) -> Iterator[Runtime]:
    client = create_redis(settings)
    runtime = Runtime(
        settings=settings,
        db=db,
        redis=client,
        broker=create_broker(settings, client),
        blobs=PostgresBlobStore(),
        sandboxes=SandboxPool(512, 30, 10),
        worker_id=f"test:{os.getpid()}",
    )
    yield runtime
    runtime.sandboxes.close()


def cancel(rt: Runtime, job_id: str) -> None:
    assert tj.end(rt.db, rt.settings, job_id, JobStatus.CANCELLED) is not None


def test_a_message_for_a_finished_job_is_ignored(rt: Runtime, db: Database) -> None:
    job_id = tj.insert(db, make_pdf(1))
    cancel(rt, job_id)
    pipeline.process_job(rt, job_id)  # would need a sandbox if it ran
    job = db.transaction(jobs.get_job, job_id)
    assert (job.status, job.attempts) == (JobStatus.CANCELLED, 0)


def test_a_job_out_of_attempts_fails_worker_lost_without_extracting(
    rt: Runtime, db: Database
) -> None:
    job_id = tj.insert(db, make_pdf(1))
    db.transaction(
        lambda conn: conn.execute(
            text("UPDATE jobs SET attempts = :n, error_message = 'killed' WHERE id = :id"),
            {"n": rt.settings.max_attempts, "id": job_id},
        )
    )
    pipeline.process_job(rt, job_id)
    job = db.transaction(jobs.get_job, job_id)
    assert (job.status, job.error_code) == (JobStatus.FAILED, "worker_lost")
    assert job.error_message is not None and "last error: killed" in job.error_message


def test_the_heartbeat_of_a_cancelled_job_says_stop(rt: Runtime, db: Database) -> None:
    job_id = tj.insert(db, make_pdf(1))
    assert db.transaction(transitions.claim, rt.blobs, rt.settings, job_id).value is not None
    assert pipeline.still_running(rt, job_id, None) is True
    cancel(rt, job_id)
    assert pipeline.still_running(rt, job_id, None) is False


def test_a_small_documents_plan_and_pages_are_recorded_at_once(
    rt: Runtime, db: Database, tmp_path: Path
) -> None:
    data = make_pdf(3, title="Small")
    job_id = tj.insert(db, data)
    job = db.transaction(transitions.claim, rt.blobs, rt.settings, job_id).value
    source = tmp_path / "source.pdf"
    source.write_bytes(data)
    plan = inspect(str(source), password=None, pages=None, max_pages=10, part_pages=10,
                   engine="pdfminer")  # fmt: skip
    assert plan.texts is not None
    pipeline.complete_part(rt, job, 0, plan.texts, plan)
    done = db.transaction(jobs.get_job, job_id)
    assert done.status == JobStatus.SUCCEEDED
    assert done.metadata is not None and done.metadata["title"] == "Small"
    assert [(n, t.strip()) for n, t, _ in tj.pages(db, job_id)] == [
        (n, page_text(n)) for n in (1, 2, 3)
    ]


@pytest.mark.slow  # a sandbox, and Tesseract on one page
@pytest.mark.parametrize(("planned", "read_as"), [(set(), ReadMethod.TEXT), (None, ReadMethod.OCR)])
def test_a_part_takes_its_ocr_pages_from_the_plan_and_looks_only_without_one(
    rt: Runtime, db: Database, tmp_path: Path, planned: set[int] | None, read_as: ReadMethod
) -> None:
    """A plan's OCR pages decide, even where looking would find a scan (here: none, for a
    scanned page 2); a part planned before plans kept them (None) looks, and finds it."""
    data = scans.mixed_pdf(["a text layer"], ["a scanned page"])
    job_id = tj.insert(db, data, engine="pdfium")  # OCR mode auto, the default
    job = db.transaction(transitions.claim, rt.blobs, rt.settings, job_id).value
    key = source_key(job_id)
    parts = [([1], key), ([2], key)]
    db.transaction(transitions.plan, job, page_count=2, metadata={}, parts=parts, ocr_pages=planned)
    part = db.transaction(transitions.claim_part, rt.blobs, rt.settings, job_id, 1).value
    source = tmp_path / "source.pdf"
    source.write_bytes(data)
    pipeline.run_part(rt, job, part, source)
    assert tj.page_reads(db, job_id)[2].method == read_as
