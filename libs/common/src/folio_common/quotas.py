"""What one API key holds in the database, for its quotas: jobs in flight, bytes stored;
and :class:`UsageCache`, so a key far below its limits is not scanned on every upload."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from sqlalchemy import Connection

from .lifecycle import LIVE
from .queries import query


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
        query(
            """SELECT count(*) FILTER (WHERE status = ANY(:live)) AS in_flight,
                      coalesce(sum(size_bytes) FILTER (WHERE purged_at IS NULL), 0) AS stored
               FROM jobs WHERE owner = :owner"""
        ),
        {"owner": owner, "live": sorted(s.value for s in LIVE)},
    ).one()
    return Usage(int(row.in_flight), int(row.stored))


#: Seconds a key's usage, once read, may stand in for a fresh read.
USAGE_FRESH_S = 2.0
#: A cached figure allows an upload only while the key uses at most this share of each
#: limit; nearer the limit every upload reads its usage afresh.
CACHED_SHARE = 0.5


class UsageCache:
    """Each key's last-read :class:`Usage`, plus what this process accepted since.

    Reading the usage scans the key's jobs, so doing it for every upload costs a
    transaction and grows with the key's history. A key far below its limits (at most
    :data:`CACHED_SHARE` of each) is allowed on a figure at most :data:`USAGE_FRESH_S`
    old; near a limit, and before every refusal, the caller reads it afresh. So a 429 is
    never answered from a stale figure, and an overshoot would need more than half a
    limit's worth of uploads through other processes within those seconds.
    Thread-safe: one per API process.
    """

    def __init__(self, fresh_s: float = USAGE_FRESH_S) -> None:
        self._fresh_s = fresh_s
        self._entries: dict[str, tuple[float, Usage]] = {}
        self._lock = threading.Lock()

    def recent(self, owner: str) -> Usage | None:
        """``owner``'s usage if read within the last ``fresh_s`` seconds, else None."""
        with self._lock:
            entry = self._entries.get(owner)
        if entry is None or time.monotonic() - entry[0] > self._fresh_s:
            return None
        return entry[1]

    def store(self, owner: str, usage: Usage) -> None:
        with self._lock:
            self._entries[owner] = (time.monotonic(), usage)

    def accepted(self, owner: str, size_bytes: int) -> None:
        """This process accepted an upload of ``owner``'s: count it until the next read."""
        with self._lock:
            entry = self._entries.get(owner)
            if entry is not None:
                read_at, usage = entry
                self._entries[owner] = (
                    read_at,
                    Usage(usage.in_flight + 1, usage.stored_bytes + size_bytes),
                )


def far_below(usage: Usage, announced_bytes: int, max_jobs: int, max_bytes: int) -> bool:
    """``usage`` plus one upload of ``announced_bytes`` stays within :data:`CACHED_SHARE`
    of both limits (a limit of 0 is off)."""
    jobs_ok = not max_jobs or usage.in_flight + 1 <= max_jobs * CACHED_SHARE
    bytes_ok = not max_bytes or usage.stored_bytes + announced_bytes <= max_bytes * CACHED_SHARE
    return jobs_ok and bytes_ok
