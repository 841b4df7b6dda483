"""Query strings as SQLAlchemy clauses, each parsed once per process.

``text(sql)`` parses the string for its bind parameters every time it is called; on the
hot paths (an upload, a job's transitions) that was a measurable share of the CPU. The
strings are constants (or one of a few variants), so a small cache holds them all. Every
query the services send goes through :func:`query`; only the migration tool's one-shot
statements, some with table names in them, use ``text`` directly.
"""

from __future__ import annotations

import functools

from sqlalchemy import TextClause, text


@functools.lru_cache(maxsize=512)
def query(sql: str) -> TextClause:
    """``text(sql)``, built once per distinct string."""
    return text(sql)
