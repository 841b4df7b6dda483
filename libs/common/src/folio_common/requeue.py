"""Running a job again by hand (``folio requeue``).

A ``failed`` job goes back to ``queued`` as if new (the lifecycle's ``reset``): attempts 0,
error cleared, its partial pages and parts dropped, sent after the commit. Its source PDF
must still exist: when a job ends, its blobs are deleted unless ``KEEP_SOURCE`` is true, so a
failed job whose source is gone is refused (submit the file again). A ``queued`` job is
simply sent again (``reenqueue``; a duplicate message is a no-op). Other statuses are refused.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection

from . import jobs
from .blobs import BlobStore, source_key
from .lifecycle import JobStatus, transitions
from .lifecycle.effects import Step
from .lifecycle.runner import Lifecycle


@dataclass(frozen=True)
class Outcome:
    """What :func:`requeue` did with one job: ``ok`` or the ``reason`` it refused."""

    job_id: str
    ok: bool
    reason: str


def _source_exists(conn: Connection, blobs: BlobStore, job_id: str) -> bool:
    return next(iter(blobs.read(conn, source_key(job_id))), None) is not None


def _requeue(conn: Connection, blobs: BlobStore, job_id: str) -> Step[Outcome]:
    job = jobs.get_job(conn, job_id)
    if job is None:
        return Step(Outcome(job_id, False, "no such job"))
    if job.status == JobStatus.QUEUED:
        sent = transitions.reenqueue(conn, job)
        return Step(Outcome(job_id, True, "already queued; enqueued again"), sent.effects)
    if job.status != JobStatus.FAILED:
        hint = " (if its worker died, the sweeper recovers it)" if not job.is_terminal else ""
        return Step(Outcome(job_id, False, f"the job is {job.status}; only failed jobs{hint}"))
    if job.purged_at is not None:
        return Step(Outcome(job_id, False, "its results and source were purged (retention)"))
    if not _source_exists(conn, blobs, job_id):
        reason = "its source PDF was deleted when it failed (KEEP_SOURCE=false); submit it again"
        return Step(Outcome(job_id, False, reason))
    return Step(Outcome(job_id, True, "requeued"), transitions.reset(conn, job_id).effects)


def requeue(lifecycle: Lifecycle, blobs: BlobStore, job_id: str) -> Outcome:
    """Reset a failed job (or take a queued one) and send it; refuse anything else."""
    outcome: Outcome = lifecycle.run(_requeue, blobs, job_id)
    return outcome
