"""The job repository: every SQL statement on ``jobs``, ``job_parts`` and ``job_pages``.

Handlers and actors call these named functions inside a unit of work
(:meth:`folio_common.database.Database.transaction`); none of them commits. Each
state change is one conditional statement, so a duplicated or late message cannot move
a job backwards: only ``queued``/``processing`` jobs change, and a terminal job is final.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, text

from .errors import ErrorCode

QUEUED, PROCESSING, SUCCEEDED, FAILED, CANCELLED = (
    "queued",
    "processing",
    "succeeded",
    "failed",
    "cancelled",
)
LIVE_STATUSES = (QUEUED, PROCESSING)
TERMINAL_STATUSES = (SUCCEEDED, FAILED, CANCELLED)
STATUSES = (*LIVE_STATUSES, *TERMINAL_STATUSES)


@dataclass(frozen=True)
class Job:
    id: str
    owner: str
    status: str
    engine: str
    options: dict[str, Any]
    filename: str | None
    size_bytes: int
    sha256: str
    page_count: int | None
    pages_total: int | None
    pages_done: int
    parts_total: int | None
    parts_done: int
    attempts: int
    error_code: str | None
    error_message: str | None
    metadata: dict[str, Any] | None
    idempotency_key: str | None
    callback_url: str | None
    request_id: str | None
    created_at: datetime
    updated_at: datetime
    enqueued_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    heartbeat_at: datetime | None
    expires_at: datetime | None
    purged_at: datetime | None

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @classmethod
    def from_row(cls, row: Row[Any]) -> Job:
        values = row._asdict()
        values["id"] = str(values["id"])
        return cls(**values)


@dataclass(frozen=True)
class Part:
    job_id: str
    part_no: int
    pages: list[int]
    blob_key: str | None
    done: bool


JOB_COLUMNS = ", ".join(f.name for f in dataclasses.fields(Job))


def _one(conn: Connection, sql: str, **params: Any) -> Job | None:
    row = conn.execute(text(sql), params).first()
    return Job.from_row(row) if row is not None else None


def _many(conn: Connection, sql: str, **params: Any) -> list[Job]:
    return [Job.from_row(row) for row in conn.execute(text(sql), params)]


def insert_job(
    conn: Connection,
    *,
    job_id: str,
    owner: str,
    engine: str,
    options: dict[str, Any],
    filename: str | None,
    size_bytes: int,
    sha256: str,
    idempotency_key: str | None = None,
    callback_url: str | None = None,
    request_id: str | None = None,
) -> Job:
    job = _one(
        conn,
        f"""
        INSERT INTO jobs (id, owner, engine, options, filename, size_bytes, sha256,
                          idempotency_key, callback_url, request_id)
        VALUES (:id, :owner, :engine, CAST(:options AS jsonb), :filename, :size_bytes,
                :sha256, :idempotency_key, :callback_url, :request_id)
        RETURNING {JOB_COLUMNS}
        """,
        id=job_id,
        owner=owner,
        engine=engine,
        options=json.dumps(options),
        filename=filename,
        size_bytes=size_bytes,
        sha256=sha256,
        idempotency_key=idempotency_key,
        callback_url=callback_url,
        request_id=request_id,
    )
    assert job is not None
    return job


def get_job(conn: Connection, job_id: str, owner: str | None = None) -> Job | None:
    """The job, or None when it does not exist or (with ``owner``) belongs to another."""
    return _one(
        conn,
        f"""SELECT {JOB_COLUMNS} FROM jobs
            WHERE id = :id AND (CAST(:owner AS text) IS NULL OR owner = :owner)""",
        id=job_id,
        owner=owner,
    )


def find_by_idempotency_key(conn: Connection, owner: str, key: str) -> Job | None:
    return _one(
        conn,
        f"SELECT {JOB_COLUMNS} FROM jobs WHERE owner = :owner AND idempotency_key = :key",
        owner=owner,
        key=key,
    )


def list_jobs(
    conn: Connection,
    owner: str,
    *,
    status: str | None = None,
    limit: int = 50,
    before: tuple[datetime, str] | None = None,
) -> list[Job]:
    """The owner's jobs, newest first; ``before`` is the (created_at, id) keyset cursor."""
    clauses = ["owner = :owner"]
    params: dict[str, Any] = {"owner": owner, "limit": limit}
    if status is not None:
        clauses.append("status = :status")
        params["status"] = status
    if before is not None:
        clauses.append("(created_at, id) < (:before_at, CAST(:before_id AS uuid))")
        params["before_at"], params["before_id"] = before
    sql = f"""SELECT {JOB_COLUMNS} FROM jobs WHERE {" AND ".join(clauses)}
              ORDER BY created_at DESC, id DESC LIMIT :limit"""
    return _many(conn, sql, **params)


def mark_enqueued(conn: Connection, job_id: str) -> None:
    """Note that the job's message was sent. Losing this note in a crash only makes the
    sweeper send a duplicate (a no-op), so it commits without waiting for the disk."""
    conn.execute(text("SET LOCAL synchronous_commit = off"))
    conn.execute(
        text("UPDATE jobs SET enqueued_at = now() WHERE id = :id AND status = 'queued'"),
        {"id": job_id},
    )


def claim_job(conn: Connection, job_id: str, stale_after_s: float) -> Job | None:
    """queued → processing, one more attempt; None when there is nothing to claim.

    A ``processing`` job is claimed again only once its heartbeat is older than
    ``stale_after_s`` (its worker died): a duplicate of a message whose job another
    worker is running must neither run it twice nor burn one of its attempts.
    """
    return _one(
        conn,
        f"""
        UPDATE jobs SET status = 'processing', attempts = attempts + 1,
               started_at = coalesce(started_at, now()), heartbeat_at = now(),
               updated_at = now()
        WHERE id = :id
          AND (status = 'queued'
               OR (status = 'processing'
                   AND heartbeat_at < now() - make_interval(secs => :stale_s)))
        RETURNING {JOB_COLUMNS}
        """,
        id=job_id,
        stale_s=stale_after_s,
    )


def release_job(conn: Connection, job_id: str) -> None:
    """processing → queued after a transient failure, so the retried message can claim it."""
    conn.execute(
        text(
            """UPDATE jobs SET status = 'queued', updated_at = now()
               WHERE id = :id AND status = 'processing'"""
        ),
        {"id": job_id},
    )


def heartbeat(conn: Connection, job_ids: Sequence[str]) -> dict[str, str]:
    """Mark running jobs alive; return each one's status (a cancelled job stops its worker)."""
    rows = conn.execute(
        text(
            """UPDATE jobs SET heartbeat_at = now()
               WHERE id = ANY(CAST(:ids AS uuid[])) RETURNING id, status"""
        ),
        {"ids": list(job_ids)},
    )
    return {str(row.id): row.status for row in rows}


def plan_job(
    conn: Connection,
    job_id: str,
    *,
    page_count: int,
    metadata: dict[str, Any],
    parts: Sequence[tuple[list[int], str | None]],
) -> None:
    """Record what the document is and how it is split: one row per part."""
    for part_no, (pages, blob_key) in enumerate(parts):
        conn.execute(
            text(
                """INSERT INTO job_parts (job_id, part_no, pages, blob_key)
                   VALUES (:job_id, :part_no, :pages, :blob_key)
                   ON CONFLICT (job_id, part_no) DO NOTHING"""
            ),
            {"job_id": job_id, "part_no": part_no, "pages": pages, "blob_key": blob_key},
        )
    conn.execute(
        text(
            """UPDATE jobs SET page_count = :page_count, pages_total = :pages_total,
                   parts_total = :parts_total, metadata = CAST(:metadata AS jsonb),
                   heartbeat_at = now(), updated_at = now()
               WHERE id = :id"""
        ),
        {
            "id": job_id,
            "page_count": page_count,
            "pages_total": sum(len(pages) for pages, _ in parts),
            "parts_total": len(parts),
            "metadata": json.dumps(metadata),
        },
    )


def get_parts(conn: Connection, job_id: str, *, pending_only: bool = False) -> list[Part]:
    sql = "SELECT job_id, part_no, pages, blob_key, done_at IS NOT NULL AS done FROM job_parts"
    sql += " WHERE job_id = :id" + (" AND done_at IS NULL" if pending_only else "")
    rows = conn.execute(text(sql + " ORDER BY part_no"), {"id": job_id})
    return [Part(str(r.job_id), r.part_no, list(r.pages), r.blob_key, r.done) for r in rows]


def claim_part(
    conn: Connection, job_id: str, part_no: int, stale_after_s: float
) -> tuple[Part, int] | None:
    """Claim a pending part of a processing job: (part, its attempt number), or None.

    None when the part is done, the job is not processing, or another worker is running
    the part (its claim is fresher than ``stale_after_s``): duplicates cost one statement.
    """
    row = conn.execute(
        text(
            """UPDATE job_parts p SET attempts = p.attempts + 1, claimed_at = now()
               FROM jobs j
               WHERE p.job_id = :id AND p.part_no = :part_no AND p.done_at IS NULL
                 AND j.id = p.job_id AND j.status = 'processing'
                 AND (p.claimed_at IS NULL
                      OR p.claimed_at < now() - make_interval(secs => :stale_s))
               RETURNING p.job_id, p.part_no, p.pages, p.blob_key, p.attempts"""
        ),
        {"id": job_id, "part_no": part_no, "stale_s": stale_after_s},
    ).first()
    if row is None:
        return None
    return Part(str(row.job_id), row.part_no, list(row.pages), row.blob_key, False), row.attempts


def touch_part(conn: Connection, job_id: str, part_no: int) -> None:
    """The running part's heartbeat (see :func:`claim_part`)."""
    conn.execute(
        text(
            """UPDATE job_parts SET claimed_at = now()
               WHERE job_id = :id AND part_no = :part_no AND done_at IS NULL"""
        ),
        {"id": job_id, "part_no": part_no},
    )


def release_part(conn: Connection, job_id: str, part_no: int) -> None:
    """Drop a part's claim after a transient failure, so its retried message can run it."""
    conn.execute(
        text(
            """UPDATE job_parts SET claimed_at = NULL
               WHERE job_id = :id AND part_no = :part_no AND done_at IS NULL"""
        ),
        {"id": job_id, "part_no": part_no},
    )


def touch_job(conn: Connection, job_id: str) -> None:
    """Reset a job's heartbeat after the sweeper re-sent its parts."""
    conn.execute(text("UPDATE jobs SET heartbeat_at = now() WHERE id = :id"), {"id": job_id})


def record_part(
    conn: Connection, job_id: str, part_no: int, pages: Sequence[tuple[int, str]]
) -> Job | None:
    """Upsert a part's pages and count it done once. Returns the job when it is complete.

    The job row is locked first, so a part cannot land after a cancel or a finalize,
    and exactly one part sees ``parts_done == parts_total``.
    """
    status = conn.execute(
        text("SELECT status FROM jobs WHERE id = :id FOR UPDATE"), {"id": job_id}
    ).scalar()
    if status != PROCESSING:
        return None
    if pages:
        conn.execute(
            text(
                """INSERT INTO job_pages (job_id, page_no, text, chars)
                   SELECT :job_id, no, body, char_length(body)
                   FROM unnest(CAST(:nos AS int[]), CAST(:texts AS text[])) AS p(no, body)
                   ON CONFLICT (job_id, page_no)
                   DO UPDATE SET text = EXCLUDED.text, chars = EXCLUDED.chars"""
            ),
            {"job_id": job_id, "nos": [n for n, _ in pages], "texts": [t for _, t in pages]},
        )
    newly_done = conn.execute(
        text(
            """UPDATE job_parts SET done_at = now()
               WHERE job_id = :id AND part_no = :part_no AND done_at IS NULL"""
        ),
        {"id": job_id, "part_no": part_no},
    ).rowcount
    if not newly_done:
        return None
    job = _one(
        conn,
        f"""
        UPDATE jobs SET parts_done = parts_done + 1, pages_done = pages_done + :pages,
               heartbeat_at = now(), updated_at = now()
        WHERE id = :id
        RETURNING {JOB_COLUMNS}
        """,
        id=job_id,
        pages=len(pages),
    )
    # Only the part that completes the set gets the job back (and so finalizes it).
    return job if job is not None and job.parts_done == job.parts_total else None


def finish_job(
    conn: Connection,
    job_id: str,
    status: str,
    *,
    ttl_hours: float,
    error: tuple[ErrorCode, str] | None = None,
) -> Job | None:
    """Move a live job to a terminal ``status``; None when it was already terminal.

    The PDF password, kept only for the worker, is dropped from the options here.
    """
    code, message = error if error else (None, None)
    return _one(
        conn,
        f"""
        UPDATE jobs SET status = :status, error_code = :code, error_message = :message,
               finished_at = now(), updated_at = now(),
               expires_at = now() + make_interval(secs => :ttl_s),
               options = options - 'password'
        WHERE id = :id AND status IN ('queued', 'processing')
        RETURNING {JOB_COLUMNS}
        """,
        id=job_id,
        status=status,
        code=code,
        message=message,
        ttl_s=ttl_hours * 3600,
    )


def get_pages(
    conn: Connection, job_id: str, page_no: int | None = None
) -> list[tuple[int, str, int]]:
    """(page_no, text, chars) in page order; one page with ``page_no``."""
    sql = "SELECT page_no, text, chars FROM job_pages WHERE job_id = :id"
    if page_no is not None:
        sql += " AND page_no = :page_no"
    rows = conn.execute(text(sql + " ORDER BY page_no"), {"id": job_id, "page_no": page_no})
    return [(r.page_no, r.text, r.chars) for r in rows]


def purge_results(conn: Connection, job_id: str) -> None:
    """Delete a job's pages and parts; its row stays, marked purged (results answer 410)."""
    conn.execute(text("DELETE FROM job_pages WHERE job_id = :id"), {"id": job_id})
    conn.execute(text("DELETE FROM job_parts WHERE job_id = :id"), {"id": job_id})
    conn.execute(
        text("UPDATE jobs SET purged_at = now(), updated_at = now() WHERE id = :id"),
        {"id": job_id},
    )


# The sweeper's queries -------------------------------------------------------------------


def unenqueued_jobs(conn: Connection, older_than_s: float, limit: int = 500) -> list[Job]:
    """Queued jobs never enqueued (Redis was down) or enqueued too long ago."""
    return _many(
        conn,
        f"""SELECT {JOB_COLUMNS} FROM jobs
            WHERE status = 'queued'
              AND (enqueued_at IS NULL OR enqueued_at < now() - make_interval(secs => :s))
            ORDER BY created_at LIMIT :limit""",
        s=older_than_s,
        limit=limit,
    )


def stale_jobs(
    conn: Connection, stuck_after_s: float, limit: int = 500, *, lock: bool = True
) -> list[Job]:
    """Processing jobs whose heartbeat stopped (their worker died or lost its message),
    oldest first. The sweeper locks them (``lock``); ``folio stuck`` only looks."""
    return _many(
        conn,
        f"""SELECT {JOB_COLUMNS} FROM jobs
            WHERE status = 'processing'
              AND heartbeat_at < now() - make_interval(secs => :s)
            ORDER BY heartbeat_at LIMIT :limit"""
        + (" FOR UPDATE SKIP LOCKED" if lock else ""),
        s=stuck_after_s,
        limit=limit,
    )


def requeue_job(conn: Connection, job_id: str) -> bool:
    """processing → queued, to be enqueued again (its done parts are kept)."""
    return bool(
        conn.execute(
            text(
                """UPDATE jobs SET status = 'queued', enqueued_at = NULL, updated_at = now()
                   WHERE id = :id AND status = 'processing'"""
            ),
            {"id": job_id},
        ).rowcount
    )


def expired_jobs(conn: Connection, limit: int = 500) -> list[str]:
    rows = conn.execute(
        text(
            """SELECT id FROM jobs
               WHERE expires_at < now() AND purged_at IS NULL
               ORDER BY expires_at LIMIT :limit"""
        ),
        {"limit": limit},
    )
    return [str(r.id) for r in rows]


def record_delivery(
    conn: Connection,
    job_id: str,
    *,
    webhook_id: str,
    attempt: int,
    status_code: int | None,
    error: str | None,
    delivered: bool,
) -> None:
    conn.execute(
        text(
            """INSERT INTO webhook_deliveries
                   (job_id, webhook_id, attempt, status_code, error, delivered)
               VALUES (:job_id, :webhook_id, :attempt, :status_code, :error, :delivered)"""
        ),
        {
            "job_id": job_id,
            "webhook_id": webhook_id,
            "attempt": attempt,
            "status_code": status_code,
            "error": error,
            "delivered": delivered,
        },
    )


def count_by_status(conn: Connection) -> dict[str, int]:
    rows = conn.execute(text("SELECT status, count(*) AS n FROM jobs GROUP BY status"))
    return {status: 0 for status in STATUSES} | {r.status: r.n for r in rows}


def note_error(conn: Connection, job_id: str, message: str) -> None:
    """Keep the latest transient error on a live job, so a job that runs out of attempts
    fails with the reason it kept failing."""
    conn.execute(
        text(
            """UPDATE jobs SET error_message = :message, updated_at = now()
               WHERE id = :id AND status IN ('queued', 'processing')"""
        ),
        {"id": job_id, "message": message[:1000]},
    )


#: Advisory lock key of the sweeper ("FOLIO" in ASCII): one sweep at a time, fleet-wide.
SWEEPER_LOCK_KEY = 0x464F4C494F


def try_sweeper_lock(conn: Connection) -> bool:
    """Take the sweeper's lock for this transaction (transaction-scoped, so it is safe
    behind a transaction-mode pooler); False when another process is sweeping."""
    return bool(
        conn.execute(
            text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": SWEEPER_LOCK_KEY}
        ).scalar()
    )


# Operators' queries: metrics, ``folio stuck``, ``folio requeue`` ------------------------


def failures_by_code(conn: Connection) -> dict[str, int]:
    """Failed jobs (still in the table) per error code."""
    rows = conn.execute(
        text(
            """SELECT coalesce(error_code, 'internal') AS code, count(*) AS n FROM jobs
               WHERE status = 'failed' GROUP BY 1"""
        )
    )
    return {r.code: r.n for r in rows}


def oldest_queued_age_s(conn: Connection) -> float:
    """Seconds the oldest ``queued`` job has waited since it was submitted (0: none queued)."""
    age = conn.execute(
        text(
            """SELECT extract(epoch FROM now() - min(created_at)) FROM jobs
               WHERE status = 'queued'"""
        )
    ).scalar()
    return float(age or 0.0)


def count_stuck(conn: Connection, stuck_after_s: float) -> int:
    return int(
        conn.execute(
            text(
                """SELECT count(*) FROM jobs WHERE status = 'processing'
                   AND heartbeat_at < now() - make_interval(secs => :s)"""
            ),
            {"s": stuck_after_s},
        ).scalar_one()
    )


def failed_since(conn: Connection, since_s: float, limit: int = 1000) -> list[Job]:
    """Jobs that failed within the last ``since_s`` seconds, oldest first."""
    return _many(
        conn,
        f"""SELECT {JOB_COLUMNS} FROM jobs
            WHERE status = 'failed' AND finished_at >= now() - make_interval(secs => :s)
            ORDER BY finished_at LIMIT :limit""",
        s=since_s,
        limit=limit,
    )


def reset_failed_job(conn: Connection, job_id: str) -> Job | None:
    """failed → queued as if new: attempts 0, error cleared, progress and parts dropped.

    None when the job is not ``failed`` (or its results were purged). The caller checks
    that the source blob still exists and enqueues the job after the commit.
    """
    job = _one(
        conn,
        f"""
        UPDATE jobs SET status = 'queued', attempts = 0, error_code = NULL,
               error_message = NULL, pages_done = 0, pages_total = NULL, parts_done = 0,
               parts_total = NULL, started_at = NULL, finished_at = NULL,
               heartbeat_at = NULL, enqueued_at = NULL, expires_at = NULL,
               updated_at = now()
        WHERE id = :id AND status = 'failed' AND purged_at IS NULL
        RETURNING {JOB_COLUMNS}
        """,
        id=job_id,
    )
    if job is not None:
        conn.execute(text("DELETE FROM job_pages WHERE job_id = :id"), {"id": job_id})
        conn.execute(text("DELETE FROM job_parts WHERE job_id = :id"), {"id": job_id})
    return job
