"""What one API key holds in the database, for its quotas: jobs in flight, bytes stored."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, text

from .lifecycle import LIVE


@dataclass(frozen=True)
class Usage:
    """One owner's share of the system.

    Parameters:
      in_flight: jobs queued or processing.
      stored_bytes: bytes of the uploads of its jobs not yet purged (their sources,
        and the text extracted from them, are what it keeps stored).
    """

    in_flight: int
    stored_bytes: int


def usage(conn: Connection, owner: str) -> Usage:
    """``owner``'s :class:`Usage`, in one scan of its rows (index ``jobs_owner_created_idx``)."""
    row = conn.execute(
        text(
            """SELECT count(*) FILTER (WHERE status = ANY(:live)) AS in_flight,
                      coalesce(sum(size_bytes) FILTER (WHERE purged_at IS NULL), 0) AS stored
               FROM jobs WHERE owner = :owner"""
        ),
        {"owner": owner, "live": sorted(s.value for s in LIVE)},
    ).one()
    return Usage(int(row.in_flight), int(row.stored))
