"""One tenant's share of the fleet figures: the same :class:`~folio_common.fleet.JobFigures`,
counted over the jobs of one owner only (``/stats`` and ``/metrics`` for a tenant key)."""

from __future__ import annotations

from sqlalchemy import Connection

from .fleet import JobFigures
from .lifecycle import JobStatus
from .queries import query


def owner_job_figures(conn: Connection, owner: str, stuck_after_s: float) -> JobFigures:
    """``owner``'s jobs per status, failures per code, stuck jobs and oldest queued age,
    in one scan of its rows (index ``jobs_owner_status_created_idx``)."""
    rows = conn.execute(
        query(
            """SELECT status,
                      CASE WHEN status = :failed THEN coalesce(error_code, 'internal') END
                          AS code,
                      count(*) AS n,
                      count(*) FILTER (WHERE status = :processing
                          AND heartbeat_at < now() - make_interval(secs => :s)) AS stuck,
                      extract(epoch FROM now() - min(created_at)
                          FILTER (WHERE status = :queued)) AS oldest_queued_s
               FROM jobs WHERE owner = :owner GROUP BY 1, 2"""
        ),
        {
            "owner": owner,
            "s": stuck_after_s,
            "failed": JobStatus.FAILED.value,
            "processing": JobStatus.PROCESSING.value,
            "queued": JobStatus.QUEUED.value,
        },
    ).all()
    by_status = dict.fromkeys((s.value for s in JobStatus), 0)
    failures: dict[str, int] = {}
    stuck = 0
    oldest = 0.0
    for row in rows:
        by_status[row.status] += row.n
        if row.code is not None:
            failures[row.code] = row.n
        stuck += row.stuck
        oldest = max(oldest, float(row.oldest_queued_s or 0.0))
    return JobFigures(by_status, failures, stuck, round(oldest, 3))
