"""Ending a job: the one place a job becomes terminal, whoever ends it.

The worker (success or failure), the API (cancel) and the sweeper (worker lost) all end
jobs through :func:`end_job`, so the blobs are always cleaned the same way, and then —
*after* the transaction commits — call :func:`announce`: long-polls wake up and the
webhook, if one was asked for, is queued.
"""

from __future__ import annotations

import dramatiq
import redis
from sqlalchemy import Connection

from . import jobs
from .blobs import BlobStore, job_prefix
from .broker import webhook_message
from .errors import ErrorCode
from .logs import get_logger
from .notify import publish_done
from .settings import Settings

log = get_logger("folio.jobs")


def end_job(
    conn: Connection,
    blobs: BlobStore,
    settings: Settings,
    job_id: str,
    status: str,
    error: tuple[ErrorCode, str] | None = None,
) -> jobs.Job | None:
    """Make a live job terminal and drop the blobs it no longer needs; None if it was not live."""
    job = jobs.finish_job(conn, job_id, status, ttl_hours=settings.result_ttl_hours, error=error)
    if job is not None:
        prefix = job_prefix(job_id)
        blobs.delete_prefix(conn, prefix + "parts/" if settings.keep_source else prefix)
    return job


def purge_job(conn: Connection, blobs: BlobStore, job_id: str) -> None:
    """Delete a finished job's results and blobs (retention, or DELETE by its owner)."""
    jobs.purge_results(conn, job_id)
    blobs.delete_prefix(conn, job_prefix(job_id))


def announce(
    client: redis.Redis, broker: dramatiq.Broker, settings: Settings, job: jobs.Job
) -> None:
    """After commit: log the outcome, wake long-polls, queue the webhook."""
    duration = (job.finished_at - job.created_at).total_seconds() if job.finished_at else None
    log.info(
        "job finished",
        job_id=job.id,
        status=job.status,
        error_code=job.error_code,
        pages=job.pages_done,
        attempts=job.attempts,
        duration_s=duration,
    )
    publish_done(client, settings, job.id, job.status)
    if job.callback_url:
        try:
            broker.enqueue(webhook_message(job.id, job.request_id))
        except redis.RedisError as exc:
            log.error("could not queue the webhook", job_id=job.id, error=type(exc).__name__)
