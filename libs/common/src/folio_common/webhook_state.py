"""Where a job's webhook stands, from its recorded delivery attempts: shown on the job,
so a client whose callback never arrives can see why (refused, retrying, given up)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

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


def webhook_document(conn: Connection, job_id: str, max_attempts: int) -> dict[str, Any]:
    """``{"state", "attempts", "last_status_code", "last_error", "last_attempt_at"}``."""
    row = conn.execute(
        query(
            """SELECT attempt, status_code, error, delivered, created_at,
                      count(*) OVER () AS tries
               FROM webhook_deliveries WHERE job_id = :id ORDER BY id DESC LIMIT 1"""
        ),
        {"id": job_id},
    ).one_or_none()
    if row is None:
        return {
            "state": PENDING,
            "attempts": 0,
            "last_status_code": None,
            "last_error": None,
            "last_attempt_at": None,
        }
    if row.delivered:
        state = DELIVERED
    elif (row.error or "").startswith("refused:"):
        state = REFUSED
    elif row.attempt >= max_attempts:
        state = FAILED
    else:
        state = RETRYING
    return {
        "state": state,
        "attempts": int(row.tries),
        "last_status_code": row.status_code,
        "last_error": row.error,
        "last_attempt_at": row.created_at.isoformat(),
    }
