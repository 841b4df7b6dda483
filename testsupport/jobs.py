"""Submitting jobs the way the API does (job row + source blob in one transaction, then the
message), for worker tests that do not need HTTP."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from hashlib import sha256
from typing import Any

from folio_common import jobs
from folio_common.blobs import PostgresBlobStore
from folio_common.broker import create_broker, enqueue_job
from folio_common.database import Database
from folio_common.errors import ErrorCode, JobError
from folio_common.lifecycle import JobStatus, transitions
from folio_common.options import JobOptions
from folio_common.page_reads import PageRead, Pages, pages_json, split_pages
from folio_common.queries import query
from folio_common.redis_client import create_redis
from folio_common.settings import Settings
from sqlalchemy import Connection, text


def insert(
    db: Database, pdf: bytes, *, engine: str = "pdfminer", owner: str = "tester", **options: Any
) -> str:
    """Store a job and its source like the API does, without enqueueing it."""
    job_id = str(uuid.uuid4())
    callback_url = options.pop("callback_url", None)

    def work(conn: Any) -> None:
        transitions.submit(
            conn,
            job_id=job_id,
            owner=owner,
            engine=engine,
            options=JobOptions(**options),
            filename="test.pdf",
            size_bytes=len(pdf),
            sha256=sha256(pdf).hexdigest(),
            callback_url=callback_url,
            request_id=f"req-{job_id[:8]}",
            source=[pdf],
        )
        # Not sent: as if Redis had been down (submit notes it enqueued optimistically).
        transitions.forget_enqueued(conn, job_id)

    db.transaction(work)
    return job_id


def submit(settings: Settings, db: Database, pdf: bytes, **kwargs: Any) -> str:
    job_id = insert(db, pdf, **kwargs)
    enqueue_inserted(settings, db, job_id)
    return job_id


def enqueue(settings: Settings, job_id: str) -> None:
    broker = create_broker(settings, create_redis(settings))
    enqueue_job(broker, job_id, f"req-{job_id[:8]}")


def wait_terminal(db: Database, job_id: str, timeout: float = 60.0) -> jobs.Job:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = db.transaction(jobs.get_job, job_id)
        if job is not None and job.is_terminal:
            return job
        time.sleep(0.1)
    raise TimeoutError(f"job {job_id} not terminal after {timeout}s: {job}")


def recorded(db: Database, job_id: str) -> tuple[Pages, dict[int, PageRead]]:
    """A job's pages, and how each was read, through the query the API serves them with."""

    def read(conn: Connection) -> tuple[Pages, dict[int, PageRead]]:
        sql = query(f"SELECT {pages_json()} FROM jobs WHERE id = :id")
        return split_pages(conn.execute(sql, {"id": job_id}).scalar() or [])

    return db.transaction(read)


def pages(db: Database, job_id: str) -> Pages:
    """(page_no, text, chars) of a job's recorded pages, in page order."""
    return recorded(db, job_id)[0]


def page_reads(db: Database, job_id: str) -> dict[int, PageRead]:
    """Page number → how it was read, for a job's recorded pages."""
    return recorded(db, job_id)[1]


def in_progress(db: Database, job_id: str) -> bool:
    """True once some pages are recorded and the job has not ended yet."""
    job = db.transaction(jobs.get_job, job_id)
    return job is not None and job.pages_done > 0 and not job.is_terminal


@contextmanager
def parts_held(db: Database, job_id: str) -> Iterator[None]:
    """Hold a job mid-run: with our share lock on its row, a worker can claim, plan and
    extract it, but recording a part (which locks the row for update) waits until the
    block ends. The job is then in flight for as long as a test needs, on any machine."""
    with db.engine.connect() as conn:
        transaction = conn.begin()
        conn.execute(text("SELECT 1 FROM jobs WHERE id = :id FOR KEY SHARE"), {"id": job_id})
        try:
            yield
        finally:
            transaction.rollback()


def planned(db: Database, job_id: str) -> bool:
    """True once the job is processing with its parts planned."""
    job = db.transaction(jobs.get_job, job_id)
    return job is not None and job.parts_total is not None and not job.is_terminal


def enqueue_inserted(settings: Settings, db: Database, job_id: str) -> None:
    """The second half of :func:`submit`, for a job stored with :func:`insert`."""
    enqueue(settings, job_id)
    db.transaction(transitions.note_enqueued, job_id)


def end(
    db: Database,
    settings: Settings,
    job_id: str,
    status: JobStatus,
    error: tuple[ErrorCode, str] | None = None,
) -> jobs.Job | None:
    """End a live job with ``status`` through its transition (effects not run)."""
    blobs = PostgresBlobStore()
    if status == JobStatus.SUCCEEDED:
        step = db.transaction(transitions.succeed, blobs, settings, job_id)
    elif status == JobStatus.CANCELLED:
        step = db.transaction(transitions.cancel, blobs, settings, job_id)
    else:
        code, message = error or (ErrorCode.INTERNAL, "failed by a test")
        step = db.transaction(transitions.fail, blobs, settings, job_id, JobError(code, message))
    ended: jobs.Job | None = step.value
    return ended


def start(db: Database, settings: Settings, job_id: str, pages: int = 2) -> jobs.Job:
    """Claim a queued job and plan it as one part of ``pages`` pages, as a worker would."""
    job = db.transaction(transitions.claim, PostgresBlobStore(), settings, job_id).value
    assert job is not None
    db.transaction(
        transitions.plan,
        job,
        page_count=pages,
        metadata={"title": "Folio test", "page_count": pages, "encrypted": False},
        parts=[(list(range(1, pages + 1)), None)],
    )
    return job
