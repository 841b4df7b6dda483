"""Opaque keyset cursors for the job listing: (created_at, id) of the last job shown.

A keyset cursor stays correct while jobs are added (no skipped or repeated rows, unlike
an offset) and each page is one index range scan on (owner, created_at, id).
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Iterable
from datetime import datetime

from folio_common.jobs import Job

#: Jobs per page when the client names no ``limit``; and the largest it may ask for.
DEFAULT_LIMIT = 20
MAX_LIMIT = 100


#: The query parameters of the job listing; any other is refused (422), as for uploads.
LISTING_PARAMS = ("status", "limit", "cursor")


def unknown_param(names: Iterable[str]) -> str | None:
    """The first query parameter the listing does not know, if any."""
    return next((name for name in names if name not in LISTING_PARAMS), None)


class InvalidLimit(ValueError):
    """``limit`` is not a whole number from 1 to :data:`MAX_LIMIT`."""


def parse_limit(raw: str | None) -> int:
    """The page size asked for; :data:`DEFAULT_LIMIT` when absent.

    ASCII digits only: ``str.isdigit()`` also accepts ``"²"``, which ``int()`` refuses.
    """
    if raw is None:
        return DEFAULT_LIMIT
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_LIMIT:
        raise InvalidLimit(raw)
    return int(raw)


class InvalidCursor(ValueError):
    """The cursor was not made by :func:`encode_cursor`."""


def encode_cursor(job: Job) -> str:
    raw = f"{job.created_at.isoformat()}|{job.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created, _, job_id = raw.partition("|")
        created_at = datetime.fromisoformat(created)
        job_id = str(uuid.UUID(job_id))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidCursor(cursor) from None
    if created_at.tzinfo is None:
        raise InvalidCursor(cursor)
    return created_at, job_id
