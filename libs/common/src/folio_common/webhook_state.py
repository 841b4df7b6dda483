"""Where a job's webhook stands, from its recorded delivery attempts: shown on the job,
so a client whose callback never arrives can see why (refused, retrying, given up)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .dbapi import Executes
from .jobs import JOB_COLUMNS, Job
from .queries import query

#: Not tried yet (the job is not finished, or its delivery is queued).
PENDING = "pending"
DELIVERED = "delivered"
#: The last attempt failed; another will follow after a backoff.
RETRYING = "retrying"
#: Every attempt (WEBHOOK_MAX_ATTEMPTS) failed.
FAILED = "failed"
#: The callback URL was refused (not public, malformed): no attempt will follow.
REFUSED = "refused"


def _last_attempt(job_ref: str) -> str:
    """SQL: the last delivery attempt of the job whose id is the SQL ``job_ref`` (a column
    or a parameter), with how many there were, as one JSON value (NULL before the first)."""
    return f"""(SELECT to_jsonb(w) FROM (
                   SELECT attempt, status_code, error, delivered, created_at,
                          count(*) OVER () AS tries
                   FROM webhook_deliveries d WHERE d.job_id = {job_ref}
                   ORDER BY d.id DESC LIMIT 1) w)"""


def job_and_webhook(
    conn: Executes, job_id: str, owner: str, max_attempts: int
) -> tuple[Job, dict[str, Any] | None] | None:
    """``owner``'s job and, when it has a callback, where its webhook stands: one
    statement, one snapshot. None when there is no such job."""
    row = conn.execute(
        query(
            f"""SELECT {JOB_COLUMNS}, {_last_attempt("jobs.id")} AS webhook
                FROM jobs WHERE id = :id AND owner = :owner"""
        ),
        {"id": job_id, "owner": owner},
    ).first()
    if row is None:
        return None
    job, last = Job.from_row_and(row, "webhook")
    return job, _document(last, max_attempts) if job.callback_url else None


def webhook_document(conn: Executes, job_id: str, max_attempts: int) -> dict[str, Any]:
    """``{"state", "attempts", "last_status_code", "last_error", "last_attempt_at"}``."""
    last = conn.execute(query(f"SELECT {_last_attempt(':id')}"), {"id": job_id}).scalar()
    return _document(last, max_attempts)


def _document(last: dict[str, Any] | None, max_attempts: int) -> dict[str, Any]:
    if last is None:
        return {
            "state": PENDING,
            "attempts": 0,
            "last_status_code": None,
            "last_error": None,
            "last_attempt_at": None,
        }
    if last["delivered"]:
        state = DELIVERED
    elif (last["error"] or "").startswith("refused:"):
        state = REFUSED
    elif last["attempt"] >= max_attempts:
        state = FAILED
    else:
        state = RETRYING
    return {
        "state": state,
        "attempts": int(last["tries"]),
        "last_status_code": last["status_code"],
        "last_error": last["error"],
        # JSON keeps PostgreSQL's text form: written as every other time in the API.
        "last_attempt_at": datetime.fromisoformat(last["created_at"]).isoformat(),
    }
