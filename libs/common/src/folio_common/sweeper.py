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
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Connection

from . import jobs
from .blobs import BlobStore
from .errors import ErrorCode, JobError
from .lifecycle import transitions
from .lifecycle.effects import Step
from .lifecycle.runner import Lifecycle
from .lifecycle.states import exhausted
from .logs import get_logger

log = get_logger("folio.sweeper")


@dataclass
class SweepReport:
    enqueued: list[str] = field(default_factory=list)
    parts_resent: list[str] = field(default_factory=list)
    recovered: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    purged: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, int]:
        return {
            "enqueued": len(self.enqueued),
            "recovered": len(self.recovered),
            "parts_resent": len(self.parts_resent),
            "worker_lost": len(self.lost),
            "purged": len(self.purged),
        }

    def __bool__(self) -> bool:
        return any(self.as_dict().values())


@dataclass
class Sweeper:
    """What a sweep needs: the lifecycle (database, Redis, broker, settings) and the blobs."""

    lifecycle: Lifecycle
    blobs: BlobStore


def _recover_stale(conn: Connection, sw: Sweeper, job: jobs.Job, report: SweepReport) -> Step[None]:
    """One job whose heartbeat stopped: re-send its parts, fail it, or run it again."""
    settings = sw.lifecycle.settings
    pending = jobs.get_parts(conn, job.id, pending_only=True) if job.parts_total else []
    split = [part for part in pending if part.blob_key is not None]
    if split:
        resent = transitions.resend_parts(conn, job, split)
        report.parts_resent += [job.id] * len(split) if resent.value else []
        return Step(None, resent.effects)
    if exhausted(job.attempts + 1, settings.max_attempts):
        last = f"; last error: {job.error_message}" if job.error_message else ""
        error = JobError(ErrorCode.WORKER_LOST, f"no progress after {job.attempts} attempts{last}")
        failed = transitions.fail(conn, sw.blobs, settings, job.id, error)
        report.lost += [job.id] if failed.value else []
        return Step(None, failed.effects)
    recovered = transitions.recover(conn, job)
    report.recovered += [job.id] if recovered.value else []
    return Step(None, recovered.effects)


def _sweep(conn: Connection, sw: Sweeper) -> Step[SweepReport | None]:
    if not jobs.try_sweeper_lock(conn):
        return Step(None)
    settings = sw.lifecycle.settings
    report = SweepReport()
    effects: list[Step[None]] = []
    # Queued jobs first: a job recovered below is sent by its own transition, once.
    for job in jobs.unenqueued_jobs(conn, settings.requeue_after_s):
        step = transitions.reenqueue(conn, job)
        report.enqueued += [job.id] if step.value else []
        effects.append(Step(None, step.effects))
    for job in jobs.stale_jobs(conn, settings.stuck_after_s):
        effects.append(_recover_stale(conn, sw, job, report))
    for job_id in jobs.expired_jobs(conn):
        if transitions.purge(conn, sw.blobs, job_id).value:
            report.purged.append(job_id)
    return Step(report, tuple(e for step in effects for e in step.effects))


def sweep_once(sw: Sweeper) -> SweepReport | None:
    """One sweep; None when another process holds the sweeper's lock."""
    report = sw.lifecycle.run(_sweep, sw)
    if report:
        log.info("sweep done", **report.as_dict())
    return report


def run_sweeper(
    sw: Sweeper, stop: threading.Event, ready: Callable[[], bool] = lambda: True
) -> None:
    """The sweeper thread's loop; an error skips one sweep, never stops the loop. While
    ``ready()`` is False (the worker's schema guard holds it) no sweep runs."""
    while not stop.wait(sw.lifecycle.settings.sweep_interval_s):
        if not ready():
            continue
        try:
            sweep_once(sw)
        except Exception:
            log.exception("sweep failed; trying again next interval")
