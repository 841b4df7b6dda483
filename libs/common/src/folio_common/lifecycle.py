"""Ending a job: the one place a job becomes terminal, whoever ends it.

The worker (success or failure), the API (cancel) and the sweeper (worker lost) all end
jobs through :func:`end_job`, so the blobs are always cleaned the same way; waiters are
told through :func:`folio_common.notify.publish_done` *after* the transaction commits.
"""

from __future__ import annotations

from sqlalchemy import Connection

from . import jobs
from .blobs import BlobStore, job_prefix
from .errors import ErrorCode
from .settings import Settings


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
