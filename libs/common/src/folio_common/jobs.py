"""The job repository's read side: the ``Job`` and ``Part`` records and every query that
only reads ``jobs``, ``job_parts`` and ``job_pages``.

Every statement that changes a job's status lives in :mod:`folio_common.lifecycle`
(its transitions); statuses appear here only as bound :class:`JobStatus` values.
Handlers and actors call these inside a unit of work
(:meth:`folio_common.database.Database.transaction`); none of them commits.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row

from .dbapi import Executes
from .lifecycle.states import TERMINAL, JobStatus
from .options import JobOptions
from .queries import query


@dataclass(frozen=True)
class Job:
    id: str
    owner: str
    status: JobStatus
    engine: str
    options: JobOptions
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
        return self.status in TERMINAL

    @classmethod
    def from_row(cls, row: Row[Any]) -> Job:
        return cls._from_values(row._asdict())

    @classmethod
    def from_row_and(cls, row: Row[Any], column: str) -> tuple[Job, Any]:
        """The job of a row that has one more ``column`` beside :data:`JOB_COLUMNS` (a
        statement that reads the job with something else), and that column's value."""
        values = row._asdict()
        value = values.pop(column)
        return cls._from_values(values), value

    def to_json(self) -> dict[str, Any]:
        """The job as JSON values, its options without the password (a completion event
        carries it: :mod:`folio_common.notify`)."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        values["options"] = dataclasses.replace(self.options, password=None).to_json()
        for name in _TIMES:
            if values[name] is not None:
                values[name] = values[name].isoformat()
        return values

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Job:
        """:meth:`to_json`'s values read back; KeyError or ValueError if they are not."""
        values = {f.name: data[f.name] for f in dataclasses.fields(cls)}
        for name in _TIMES:
            if values[name] is not None:
                values[name] = datetime.fromisoformat(values[name])
        return cls._from_values(values)

    @classmethod
    def _from_values(cls, values: dict[str, Any]) -> Job:
        values["id"] = str(values["id"])
        values["status"] = JobStatus(values["status"])
        values["options"] = JobOptions.from_json(values["options"])
        return cls(**values)


@dataclass(frozen=True)
class Part:
    job_id: str
    part_no: int
    pages: list[int]
    blob_key: str | None
    done: bool
    #: Its pages to read by OCR, as planned; None: a part planned before they were stored
    #: (the worker looks for them when it runs the part).
    ocr_pages: list[int] | None = None

    @classmethod
    def from_row(cls, row: Row[Any], done: bool) -> Part:
        """From a row with ``job_id``, ``part_no``, ``pages``, ``blob_key``, ``ocr_pages``."""
        ocr = None if row.ocr_pages is None else list(row.ocr_pages)
        return cls(str(row.job_id), row.part_no, list(row.pages), row.blob_key, done, ocr)


#: The columns :meth:`Part.from_row` reads.
PART_COLUMNS = "job_id, part_no, pages, blob_key, ocr_pages"


JOB_COLUMNS = ", ".join(f.name for f in dataclasses.fields(Job))
#: The fields :meth:`Job.to_json` writes as ISO 8601 strings.
_TIMES = tuple(f.name for f in dataclasses.fields(Job) if str(f.type).startswith("datetime"))


def one_job(conn: Executes, sql: str, **params: Any) -> Job | None:
    """The job ``sql`` returns (it selects :data:`JOB_COLUMNS`), or None."""
    row = conn.execute(query(sql), params).first()
    return Job.from_row(row) if row is not None else None


def many_jobs(conn: Executes, sql: str, **params: Any) -> list[Job]:
    return [Job.from_row(row) for row in conn.execute(query(sql), params)]


def get_job(conn: Executes, job_id: str, owner: str | None = None) -> Job | None:
    """The job, or None when it does not exist or (with ``owner``) belongs to another."""
    return one_job(
        conn,
        f"""SELECT {JOB_COLUMNS} FROM jobs
            WHERE id = :id AND (CAST(:owner AS text) IS NULL OR owner = :owner)""",
        id=job_id,
        owner=owner,
    )


def find_by_idempotency_key(conn: Connection, owner: str, key: str) -> Job | None:
    return one_job(
        conn,
        f"SELECT {JOB_COLUMNS} FROM jobs WHERE owner = :owner AND idempotency_key = :key",
        owner=owner,
        key=key,
    )


def find_submitted(conn: Connection, job_id: str, owner: str, key: str | None) -> Job | None:
    """After a submission wrote nothing: the job it had written already (same ``job_id``:
    a retried submission whose first commit's answer was lost) or, failing that, the
    owner's job with ``key``."""
    return one_job(
        conn,
        f"""SELECT {JOB_COLUMNS} FROM jobs
            WHERE id = :id OR (owner = :owner AND idempotency_key = :key)
            ORDER BY id = :id DESC LIMIT 1""",
        id=job_id,
        owner=owner,
        key=key,
    )


def list_jobs(
    conn: Executes,
    owner: str,
    *,
    status: JobStatus | None = None,
    limit: int = 50,
    before: tuple[datetime, str] | None = None,
) -> list[Job]:
    """The owner's jobs, newest first; ``before`` is the (created_at, id) keyset cursor."""
    clauses = ["owner = :owner"]
    params: dict[str, Any] = {"owner": owner, "limit": limit}
    if status is not None:
        clauses.append("status = :status")
        params["status"] = status.value
    if before is not None:
        clauses.append("(created_at, id) < (:before_at, CAST(:before_id AS uuid))")
        params["before_at"], params["before_id"] = before
    sql = f"""SELECT {JOB_COLUMNS} FROM jobs WHERE {" AND ".join(clauses)}
              ORDER BY created_at DESC, id DESC LIMIT :limit"""
    return many_jobs(conn, sql, **params)


def heartbeat(conn: Connection, job_ids: Sequence[str]) -> dict[str, JobStatus]:
    """Mark running jobs alive; return each one's status (a cancelled job stops its worker)."""
    rows = conn.execute(
        query(
            """UPDATE jobs SET heartbeat_at = now()
               WHERE id = ANY(CAST(:ids AS uuid[])) RETURNING id, status"""
        ),
        {"ids": list(job_ids)},
    )
    return {str(row.id): JobStatus(row.status) for row in rows}


def get_parts(conn: Connection, job_id: str, *, pending_only: bool = False) -> list[Part]:
    sql = f"SELECT {PART_COLUMNS}, done_at IS NOT NULL AS done FROM job_parts"
    sql += " WHERE job_id = :id" + (" AND done_at IS NULL" if pending_only else "")
    rows = conn.execute(query(sql + " ORDER BY part_no"), {"id": job_id})
    return [Part.from_row(r, r.done) for r in rows]


# The sweeper's queries -------------------------------------------------------------------


def unenqueued_jobs(conn: Connection, older_than_s: float, limit: int = 500) -> list[Job]:
    """Queued jobs never enqueued (Redis was down) or enqueued too long ago."""
    return many_jobs(
        conn,
        f"""SELECT {JOB_COLUMNS} FROM jobs
            WHERE status = :queued
              AND (enqueued_at IS NULL OR enqueued_at < now() - make_interval(secs => :s))
            ORDER BY created_at LIMIT :limit""",
        queued=JobStatus.QUEUED.value,
        s=older_than_s,
        limit=limit,
    )


def stale_jobs(
    conn: Connection, stuck_after_s: float, limit: int = 500, *, lock: bool = True
) -> list[Job]:
    """Processing jobs whose heartbeat stopped (their worker died or lost its message),
    oldest first. The sweeper locks them (``lock``); ``folio stuck`` only looks."""
    return many_jobs(
        conn,
        f"""SELECT {JOB_COLUMNS} FROM jobs
            WHERE status = :processing
              AND heartbeat_at < now() - make_interval(secs => :s)
            ORDER BY heartbeat_at LIMIT :limit"""
        + (" FOR UPDATE SKIP LOCKED" if lock else ""),
        processing=JobStatus.PROCESSING.value,
        s=stuck_after_s,
        limit=limit,
    )


def expired_jobs(conn: Connection, limit: int = 500) -> list[str]:
    rows = conn.execute(
        query(
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
        query(
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
    rows = conn.execute(query("SELECT status, count(*) AS n FROM jobs GROUP BY status"))
    return {status.value: 0 for status in JobStatus} | {r.status: r.n for r in rows}


#: Advisory lock key of the sweeper ("FOLIO" in ASCII): one sweep at a time, fleet-wide.
SWEEPER_LOCK_KEY = 0x464F4C494F


def try_sweeper_lock(conn: Connection) -> bool:
    """Take the sweeper's lock for this transaction (transaction-scoped, so it is safe
    behind a transaction-mode pooler); False when another process is sweeping."""
    return bool(
        conn.execute(
            query("SELECT pg_try_advisory_xact_lock(:key)"), {"key": SWEEPER_LOCK_KEY}
        ).scalar()
    )


# Operators' queries: metrics, ``folio stuck``, ``folio requeue`` ------------------------


def failures_by_code(conn: Connection) -> dict[str, int]:
    """Failed jobs (still in the table) per error code."""
    rows = conn.execute(
        query(
            """SELECT coalesce(error_code, 'internal') AS code, count(*) AS n FROM jobs
               WHERE status = :failed GROUP BY 1"""
        ),
        {"failed": JobStatus.FAILED.value},
    )
    return {r.code: r.n for r in rows}


def oldest_queued_age_s(conn: Connection) -> float:
    """Seconds the oldest ``queued`` job has waited since it was submitted (0: none queued)."""
    age = conn.execute(
        query(
            """SELECT extract(epoch FROM now() - min(created_at)) FROM jobs
               WHERE status = :queued"""
        ),
        {"queued": JobStatus.QUEUED.value},
    ).scalar()
    return float(age or 0.0)


def count_stuck(conn: Connection, stuck_after_s: float) -> int:
    return int(
        conn.execute(
            query(
                """SELECT count(*) FROM jobs WHERE status = :processing
                   AND heartbeat_at < now() - make_interval(secs => :s)"""
            ),
            {"processing": JobStatus.PROCESSING.value, "s": stuck_after_s},
        ).scalar_one()
    )


def failed_since(conn: Connection, since_s: float, limit: int = 1000) -> list[Job]:
    """Jobs that failed within the last ``since_s`` seconds, oldest first."""
    return many_jobs(
        conn,
        f"""SELECT {JOB_COLUMNS} FROM jobs
            WHERE status = :failed AND finished_at >= now() - make_interval(secs => :s)
            ORDER BY finished_at LIMIT :limit""",
        failed=JobStatus.FAILED.value,
        s=since_s,
        limit=limit,
    )
