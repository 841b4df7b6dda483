"""Running a job again by hand (``folio requeue``).

A ``failed`` job goes back to ``queued`` as if new — attempts 0, error cleared, its
partial pages and parts dropped — and is enqueued after the commit. Its source PDF must
still exist: when a job ends, its blobs are deleted unless ``KEEP_SOURCE`` is true, so a
failed job whose source is gone is refused (submit the file again). A ``queued`` job is
simply enqueued again (a duplicate message is a no-op). Other statuses are refused.
"""

from __future__ import annotations

from dataclasses import dataclass

import dramatiq
import redis
from sqlalchemy import Connection

from . import jobs
from .blobs import BlobStore, source_key
from .broker import enqueue_job
from .database import Database


@dataclass(frozen=True)
class Outcome:
    """What :func:`requeue` did with one job: ``ok`` or the ``reason`` it refused."""

    job_id: str
    ok: bool
    reason: str


def _source_exists(conn: Connection, blobs: BlobStore, job_id: str) -> bool:
    return next(iter(blobs.read(conn, source_key(job_id))), None) is not None


def _reset(conn: Connection, blobs: BlobStore, job_id: str) -> Outcome:
    job = jobs.get_job(conn, job_id)
    if job is None:
        return Outcome(job_id, False, "no such job")
    if job.status == jobs.QUEUED:
        return Outcome(job_id, True, "already queued; enqueued again")
    if job.status != jobs.FAILED:
        hint = " (if its worker died, the sweeper recovers it)" if not job.is_terminal else ""
        return Outcome(job_id, False, f"the job is {job.status}; only failed jobs{hint}")
    if job.purged_at is not None:
        return Outcome(job_id, False, "its results and source were purged (retention)")
    if not _source_exists(conn, blobs, job_id):
        return Outcome(
            job_id,
            False,
            "its source PDF was deleted when it failed (KEEP_SOURCE=false); submit it again",
        )
    jobs.reset_failed_job(conn, job_id)
    return Outcome(job_id, True, "requeued")


def requeue(db: Database, blobs: BlobStore, broker: dramatiq.Broker, job_id: str) -> Outcome:
    """Reset a failed job (or take a queued one) and enqueue it; refuse anything else."""
    outcome: Outcome = db.transaction(_reset, blobs, job_id)
    if not outcome.ok:
        return outcome
    job = db.transaction(jobs.get_job, job_id)
    try:
        enqueue_job(broker, job_id, job.request_id if job else None)
    except redis.RedisError:
        return Outcome(
            job_id, True, f"{outcome.reason}; Redis unreachable, the sweeper enqueues it"
        )
    db.transaction(jobs.mark_enqueued, job_id)
    return outcome
