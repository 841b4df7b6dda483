"""The sweeper: what makes "nothing accepted is lost" true when messages are.

Every ``SWEEP_INTERVAL_S`` each worker process tries to sweep (``folio sweep`` runs one
sweep by hand); a transaction-scoped
advisory lock lets one at a time through, fleet-wide. A sweep:

- enqueues ``queued`` jobs never enqueued (Redis was down at submission) or waiting
  longer than ``REQUEUE_AFTER_S`` (their message was lost with a Redis restart);
- recovers ``processing`` jobs whose heartbeat is older than ``STUCK_AFTER_S``: a job
  split into parts gets its unfinished parts sent again (a part that is still queued or
  running skips the duplicate, and a part that keeps losing its worker fails the job
  after ``MAX_ATTEMPTS``); any other job — its worker died while planning or extracting
  it — goes back to ``queued`` and is enqueued, or ``failed: worker_lost`` once it used
  ``MAX_ATTEMPTS``. Waiting behind a backlog therefore never costs a job an attempt;
- purges results and blobs of jobs past their ``expires_at``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import dramatiq
import redis
from sqlalchemy import Connection

from . import jobs
from .blobs import BlobStore
from .broker import enqueue_job, part_message
from .database import Database
from .errors import ErrorCode
from .lifecycle import announce, end_job, purge_job
from .logs import get_logger
from .settings import Settings

log = get_logger("folio.sweeper")


@dataclass
class SweepReport:
    enqueue: list[tuple[str, str | None]] = field(default_factory=list)
    parts: list[tuple[str, int, str | None]] = field(default_factory=list)
    recovered: list[str] = field(default_factory=list)
    lost: list[jobs.Job] = field(default_factory=list)
    purged: list[str] = field(default_factory=list)
    enqueued: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "enqueued": self.enqueued,
            "recovered": len(self.recovered),
            "parts_resent": len(self.parts),
            "worker_lost": len(self.lost),
            "purged": len(self.purged),
        }


@dataclass
class Sweeper:
    """What a sweep needs: the database, the blob store, Redis and the broker."""

    db: Database
    blobs: BlobStore
    redis: redis.Redis
    broker: dramatiq.Broker
    settings: Settings


def _sweep(conn: Connection, sw: Sweeper) -> SweepReport | None:
    if not jobs.try_sweeper_lock(conn):
        return None
    report = SweepReport()
    settings = sw.settings
    for job in jobs.stale_jobs(conn, settings.stuck_after_s):
        pending = jobs.get_parts(conn, job.id, pending_only=True) if job.parts_total else []
        split = [part for part in pending if part.blob_key is not None]
        if split:
            jobs.touch_job(conn, job.id)
            report.parts += [(job.id, part.part_no, job.request_id) for part in split]
        elif job.attempts >= settings.max_attempts:
            last = f"; last error: {job.error_message}" if job.error_message else ""
            message = f"no progress after {job.attempts} attempts{last}"
            ended = end_job(
                conn, sw.blobs, settings, job.id, jobs.FAILED, (ErrorCode.WORKER_LOST, message)
            )
            if ended is not None:
                report.lost.append(ended)
        elif jobs.requeue_job(conn, job.id):
            report.recovered.append(job.id)
    report.enqueue = [
        (job.id, job.request_id) for job in jobs.unenqueued_jobs(conn, settings.requeue_after_s)
    ]
    for job_id in jobs.expired_jobs(conn):
        purge_job(conn, sw.blobs, job_id)
        report.purged.append(job_id)
    return report


def sweep_once(sw: Sweeper) -> SweepReport | None:
    """One sweep; None when another process holds the sweeper's lock."""
    report: SweepReport | None = sw.db.transaction(_sweep, sw)
    if report is None:
        return None
    for job in report.lost:
        announce(sw.redis, sw.broker, sw.settings, job)
    try:
        for job_id, part_no, request_id in report.parts:
            sw.broker.enqueue(part_message(job_id, part_no, request_id))
        for job_id, request_id in report.enqueue:
            enqueue_job(sw.broker, job_id, request_id)
            sw.db.transaction(jobs.mark_enqueued, job_id)
            report.enqueued += 1
    except redis.RedisError as exc:
        log.warning("redis unavailable; the next sweep tries again", error=type(exc).__name__)
    if report.enqueued or report.recovered or report.parts or report.lost or report.purged:
        log.info("sweep done", **report.as_dict())
    return report


def run_sweeper(sw: Sweeper, stop: threading.Event) -> None:
    """The sweeper thread's loop; an error skips one sweep, never stops the loop."""
    while not stop.wait(sw.settings.sweep_interval_s):
        try:
            sweep_once(sw)
        except Exception:
            log.exception("sweep failed; trying again next interval")
