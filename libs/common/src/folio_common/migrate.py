"""Schema migrations (yoyo) and the check that the live schema is what the code expects.

``folio-migrate apply``: wait for the database, take yoyo's lock, apply what is pending
(a no-op when nothing is). Every DDL statement is idempotent, so a database whose
objects were created by hand, without yoyo's tables, migrates cleanly too.
``folio-migrate verify``: exit 1 naming every missing table, column or index and every
pending migration. ``folio-migrate rollback``: undo the latest (``--all``: every) migration.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from yoyo import get_backend, read_migrations

from .bootstrap import start_process
from .logs import get_logger
from .settings import Settings
from .wait import DependencyUnavailable, wait_for_database

log = get_logger("folio.migrate")

#: Seconds to wait for yoyo's lock held by another deploy (its default is 10).
LOCK_TIMEOUT_S = 120

#: What the code needs: table → columns, and index names. ``verify`` checks these.
EXPECTED_COLUMNS: dict[str, tuple[str, ...]] = {
    "jobs": (
        "id", "owner", "status", "engine", "options", "filename", "size_bytes", "sha256",
        "page_count", "pages_total", "pages_done", "parts_total", "parts_done", "attempts",
        "error_code", "error_message", "metadata", "idempotency_key", "callback_url",
        "request_id", "created_at", "updated_at", "enqueued_at", "started_at", "finished_at",
        "heartbeat_at", "expires_at", "purged_at",
    ),
    "blobs": ("key", "seq", "data", "created_at"),
    "job_pages": (
        "job_id", "page_no", "text", "chars", "method", "ocr_confidence", "unread_reason",
    ),
    "job_parts": (
        "job_id", "part_no", "pages", "blob_key", "attempts", "claimed_at", "done_at",
    ),
    "webhook_deliveries": (
        "id", "job_id", "webhook_id", "attempt", "status_code", "error", "delivered",
        "created_at",
    ),
}  # fmt: skip
EXPECTED_INDEXES = (
    "jobs_pkey",
    "jobs_owner_created_idx",
    "jobs_owner_status_created_idx",
    "jobs_live_idx",
    "jobs_owner_idempotency_key_idx",
    "jobs_sha256_idx",
    "jobs_expires_idx",
    "blobs_pkey",
    "job_pages_pkey",
    "job_parts_pkey",
    "webhook_deliveries_pkey",
    "webhook_deliveries_job_idx",
)


def migrations_dir() -> Path:
    """``migrations/`` at the repository root, or ``FOLIO_MIGRATIONS`` (the images set it)."""
    configured = os.environ.get("FOLIO_MIGRATIONS")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[4] / "migrations"


def yoyo_url(settings: Settings) -> str:
    """The database URL as yoyo wants it: plain ``postgresql://`` (it rejects ``+psycopg2``)."""
    url = settings.database().set(drivername="postgresql")
    query = dict(url.query)
    query.setdefault("connect_timeout", str(settings.db_connect_timeout))
    query.setdefault("application_name", "folio-migrate")
    if settings.db_sslmode:
        query.setdefault("sslmode", settings.db_sslmode)
    return url.set(query=query).render_as_string(hide_password=False)


def apply(settings: Settings, source: Path | None = None) -> list[str]:
    """Apply pending migrations under yoyo's lock; return their ids (empty: nothing to do)."""
    backend = get_backend(yoyo_url(settings))
    migrations = read_migrations(str(source or migrations_dir()))
    with backend.lock(timeout=LOCK_TIMEOUT_S):
        pending = backend.to_apply(migrations)
        backend.apply_migrations(pending)
    return [m.id for m in pending]


def rollback(
    settings: Settings, source: Path | None = None, *, everything: bool = False
) -> list[str]:
    backend = get_backend(yoyo_url(settings))
    migrations = read_migrations(str(source or migrations_dir()))
    with backend.lock(timeout=LOCK_TIMEOUT_S):
        applied = backend.to_rollback(migrations)
        chosen = applied if everything else applied[:1]
        backend.rollback_migrations(chosen)
    return [m.id for m in chosen]


def verify(settings: Settings, source: Path | None = None) -> list[str]:
    """Every difference between the live schema and what the code expects (empty: none)."""
    problems: list[str] = []
    engine = create_engine(settings.database())
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    """SELECT table_name, column_name FROM information_schema.columns
                       WHERE table_schema = current_schema()"""
                )
            )
            live: dict[str, set[str]] = {}
            for table, column in rows:
                live.setdefault(table, set()).add(column)
            indexes = set(
                conn.execute(
                    text("SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()")
                ).scalars()
            )
            invalid = set(
                conn.execute(
                    text(
                        """SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                           WHERE NOT i.indisvalid"""
                    )
                ).scalars()
            )
    finally:
        engine.dispose()
    for table, columns in EXPECTED_COLUMNS.items():
        if table not in live:
            problems.append(f"missing table {table}")
            continue
        problems += [f"missing column {table}.{c}" for c in columns if c not in live[table]]
    problems += [f"missing index {name}" for name in EXPECTED_INDEXES if name not in indexes]
    problems += [f"invalid index {name}" for name in sorted(invalid & set(EXPECTED_INDEXES))]
    backend = get_backend(yoyo_url(settings))
    pending = backend.to_apply(read_migrations(str(source or migrations_dir())))
    problems += [f"pending migration {m.id}" for m in pending]
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="folio-migrate", description=__doc__.split("\n")[0])
    parser.add_argument(
        "command", choices=["apply", "verify", "rollback"], nargs="?", default="apply"
    )
    parser.add_argument(
        "--wait-s", type=float, default=60.0, help="seconds to wait for the database"
    )
    parser.add_argument("--all", action="store_true", help="rollback: every migration")
    args = parser.parse_args(argv)
    settings = start_process("migrate")
    try:
        wait_for_database(settings, args.wait_s)
    except DependencyUnavailable as exc:
        log.error(str(exc))
        return 1
    result: dict[str, Any]
    if args.command == "apply":
        applied = apply(settings)
        log.info("migrations applied" if applied else "schema up to date", applied=applied)
        return 0
    if args.command == "rollback":
        log.info("migrations rolled back", rolled_back=rollback(settings, everything=args.all))
        return 0
    problems = verify(settings)
    result = {"problems": problems}
    if problems:
        log.error("schema differs from what the code expects", **result)
        return 1
    log.info("schema verified")
    return 0


if __name__ == "__main__":
    sys.exit(main())
