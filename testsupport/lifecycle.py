"""Jobs brought into each status through the lifecycle's own transitions, for tests of the
repository, the transitions and the sweeper (no worker, no HTTP)."""

from __future__ import annotations

import uuid
from typing import Any

from folio_common import jobs
from folio_common.blobs import PostgresBlobStore, part_key
from folio_common.database import Database
from folio_common.errors import ErrorCode, JobError
from folio_common.lifecycle import JobStatus, transitions
from folio_common.options import JobOptions
from folio_common.settings import Settings
from sqlalchemy import Connection, text

BLOBS = PostgresBlobStore()


def submit_in(
    conn: Connection,
    owner: str = "tester",
    callback_url: str | None = None,
    *,
    size_bytes: int = 123,
    source: bytes = b"",
    **options: Any,
) -> jobs.Job:
    """A queued job; ``source``, when given, is stored as its source blob."""
    job = transitions.submit(
        conn,
        job_id=str(uuid.uuid4()),
        owner=owner,
        engine="pdfminer",
        options=JobOptions(**options),
        filename="a.pdf",
        size_bytes=size_bytes,
        sha256="0" * 64,
        callback_url=callback_url,
        request_id="req-test",
        source=[source] if source else (),
    ).value
    assert job is not None
    # Its effects are not run: as if its message had not been sent (Redis down).
    transitions.forget_enqueued(conn, job.id)
    return jobs.get_job(conn, job.id) or job


def new_job(
    db: Database, owner: str = "tester", callback_url: str | None = None, **options: Any
) -> jobs.Job:
    """A queued job (its effects not run: nothing is sent); ``options`` may also hold
    :func:`submit_in`'s ``size_bytes`` and ``source``."""
    job: jobs.Job = db.transaction(submit_in, owner, callback_url, **options)
    return job


def get(db: Database, job_id: str) -> jobs.Job:
    job = db.transaction(jobs.get_job, job_id)
    assert job is not None
    return job


def claim(db: Database, settings: Settings, job_id: str) -> jobs.Job | None:
    claimed: jobs.Job | None = db.transaction(transitions.claim, BLOBS, settings, job_id).value
    return claimed


def plan(db: Database, job: jobs.Job, parts: list[list[int]], keys: bool = False) -> bool:
    """Plan ``job`` as ``parts`` (page lists); with ``keys``, as split-off parts."""
    planned: bool = db.transaction(
        transitions.plan,
        job,
        page_count=sum(len(p) for p in parts),
        metadata={"title": "t"},
        parts=[(pages, part_key(job.id, n) if keys else None) for n, pages in enumerate(parts)],
    ).value
    return planned


def age_heartbeat(db: Database, job_id: str, seconds: float) -> None:
    """Move a job's heartbeat (and its parts' claims) ``seconds`` into the past, as if its
    worker had been silent that long."""

    def age(conn: Connection) -> None:
        conn.execute(
            text("UPDATE jobs SET heartbeat_at = now() - make_interval(secs => :s) WHERE id = :id"),
            {"id": job_id, "s": seconds},
        )
        conn.execute(
            text(
                """UPDATE job_parts SET claimed_at = now() - make_interval(secs => :s)
                   WHERE job_id = :id AND claimed_at IS NOT NULL"""
            ),
            {"id": job_id, "s": seconds},
        )

    db.transaction(age)


def job_in(db: Database, settings: Settings, status: JobStatus) -> jobs.Job:
    """A job in ``status``, reached the way production reaches it."""
    job = new_job(db)
    if status == JobStatus.QUEUED:
        return job
    if status == JobStatus.CANCELLED:
        db.transaction(transitions.cancel, BLOBS, settings, job.id)
        return get(db, job.id)
    claimed = claim(db, settings, job.id)
    assert claimed is not None
    if status == JobStatus.SUCCEEDED:
        plan(db, claimed, [[1]])
        db.transaction(transitions.record_part, BLOBS, settings, job.id, 0, [(1, "text")])
    elif status == JobStatus.FAILED:
        error = JobError(ErrorCode.INVALID_PDF, "broken")
        db.transaction(transitions.fail, BLOBS, settings, job.id, error)
    found = get(db, job.id)
    assert found.status == status
    return found
