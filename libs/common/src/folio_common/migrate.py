"""Schema migrations (yoyo) and the check that the live schema is what the code expects.

``folio-migrate apply``: wait for the database, take yoyo's lock, apply what is pending
(a no-op when nothing is). Every DDL statement is idempotent, so a database whose
objects were created by hand, without yoyo's tables, migrates cleanly too.
``folio-migrate verify``: exit 1 naming every missing table, column or index and every
pending migration. ``folio-migrate rollback``: undo the latest (``--all``: every) migration.
``folio-migrate break-lock``: remove the lock a killed migration left behind; refused while
the process that took it is still connected.
``folio-migrate bloat``: one line per Folio table with its live and dead rows, its size on
disk (TOAST and indexes included) and when autovacuum last ran (docs/operations.md, "Bloat").

Every command connects with ``MIGRATE_DATABASE_URL`` (default ``DATABASE_URL``) and
``DB_SSLMODE``; each migration's transaction gets ``MIGRATE_STATEMENT_TIMEOUT_MS`` with
``SET LOCAL`` (pooler-safe), so a long index build is not cut by the role's default.
Every failure is one JSON log line and exit 1, never a traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, text
from sqlalchemy.pool import NullPool
from yoyo import get_backend, read_migrations
from yoyo.backends.base import DatabaseBackend
from yoyo.exceptions import LockTimeout

from . import database, timings
from .bootstrap import start_process
from .logs import get_logger, redact_text
from .settings import Settings
from .wait import DependencyUnavailable, wait_for_database

log = get_logger("folio.migrate")

#: Seconds to wait for yoyo's lock held by another deploy (its default is 10).
LOCK_TIMEOUT_S = 120
#: yoyo's tables: applied migrations, and the one-row lock (``locked``, ``ctime``, ``pid``).
MIGRATIONS_TABLE = "_yoyo_migration"
LOCK_TABLE = "yoyo_lock"
#: Seconds of clock difference between the migrating host and the database tolerated when
#: telling the lock's holder from a later run that waits for it with the same pid.
CLOCK_SKEW_S = 5

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
        "ocr_pages",
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


def for_migrations(settings: Settings) -> Settings:
    """``settings`` with ``MIGRATE_DATABASE_URL`` in force (when set) as the database URL.

    Supabase's transaction pooler does not keep session state between statements; a
    migration wants the session pooler or a direct connection (research/railway.md 5).
    """
    if not settings.migrate_database_url:
        return settings
    return dataclasses.replace(settings, database_url=settings.migrate_database_url)


def application_name(pid: int | None = None) -> str:
    """How a migrating process names its connection: yoyo's lock row records only the pid."""
    return f"folio-migrate:{os.getpid() if pid is None else pid}"


def yoyo_url(settings: Settings) -> str:
    """The database URL as yoyo wants it: plain ``postgresql://`` (it rejects ``+psycopg2``)."""
    url = settings.database().set(drivername="postgresql")
    query = dict(url.query)
    query.setdefault("connect_timeout", str(settings.db_connect_timeout))
    query.setdefault("application_name", application_name())
    if settings.db_sslmode:
        query.setdefault("sslmode", settings.db_sslmode)
    return url.set(query=query).render_as_string(hide_password=False)


def engine_for(settings: Settings) -> Engine:
    """A one-off engine (no pool) on the same URL, SSL mode and timeout yoyo uses."""
    return database.create_engine(
        settings, application_name=application_name(), poolclass=NullPool, pool_pre_ping=False
    )


def backend_for(settings: Settings) -> DatabaseBackend:
    """yoyo's backend, each migration's transaction bounded by its own statement timeout."""
    return _bounded(get_backend(yoyo_url(settings)), settings.migrate_statement_timeout_ms)


def _bounded(backend: DatabaseBackend, timeout_ms: int) -> DatabaseBackend:
    """``backend`` (and the copies yoyo runs each migration on) with ``SET LOCAL
    statement_timeout`` after every BEGIN: it ends with the transaction, so nothing leaks
    to a pooled server connection, and it overrides the role's default (Supabase: 2 min)."""
    begin, copy = backend.begin, backend.copy

    def begin_with_timeout() -> None:
        begin()
        backend.execute(f"SET LOCAL statement_timeout = {int(timeout_ms)}")

    backend.begin = begin_with_timeout
    backend.copy = lambda: _bounded(copy(), timeout_ms)
    return backend


def apply(settings: Settings, source: Path | None = None) -> list[str]:
    """Apply pending migrations under yoyo's lock; return their ids (empty: nothing to do)."""
    backend = backend_for(settings)
    migrations = read_migrations(str(source or migrations_dir()))
    with backend.lock(timeout=LOCK_TIMEOUT_S):
        pending = backend.to_apply(migrations)
        backend.apply_migrations(pending)
    return [m.id for m in pending]


def rollback(
    settings: Settings, source: Path | None = None, *, everything: bool = False
) -> list[str]:
    backend = backend_for(settings)
    migrations = read_migrations(str(source or migrations_dir()))
    with backend.lock(timeout=LOCK_TIMEOUT_S):
        applied = backend.to_rollback(migrations)
        chosen = applied if everything else applied[:1]
        backend.rollback_migrations(chosen)
    return [m.id for m in chosen]


def schema_problems(conn: Connection, source: Path | None = None) -> list[str]:
    """Every difference between the live schema and what the code expects (empty: none).

    One place for the rule, used by ``verify`` and by the worker's schema guard.
    """
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
    applied: set[str] = set()
    if conn.execute(text(f"SELECT to_regclass('{MIGRATIONS_TABLE}')")).scalar() is not None:
        applied = set(conn.execute(text(f"SELECT migration_id FROM {MIGRATIONS_TABLE}")).scalars())
    problems: list[str] = []
    for table, columns in EXPECTED_COLUMNS.items():
        if table not in live:
            problems.append(f"missing table {table}")
            continue
        problems += [f"missing column {table}.{c}" for c in columns if c not in live[table]]
    problems += [f"missing index {name}" for name in EXPECTED_INDEXES if name not in indexes]
    problems += [f"invalid index {name}" for name in sorted(invalid & set(EXPECTED_INDEXES))]
    problems += [f"pending migration {i}" for i in migration_ids(source) if i not in applied]
    return problems


def migration_ids(source: Path | None = None) -> list[str]:
    """Ids of the migrations this code ships, in order."""
    return [m.id for m in read_migrations(str(source or migrations_dir()))]


def verify(settings: Settings, source: Path | None = None) -> list[str]:
    """Every difference between the live schema and what the code expects (empty: none)."""
    engine = engine_for(settings)
    try:
        with engine.connect() as conn:
            return schema_problems(conn, source)
    finally:
        engine.dispose()


@dataclass(frozen=True)
class LockHolder:
    """The process yoyo's lock row names, and whether it is still connected."""

    pid: int
    age_s: float
    alive: bool


def lock_holder(settings: Settings) -> LockHolder | None:
    """Who holds yoyo's lock (None: nobody).

    The holder is alive while a connection named :func:`application_name` for its pid,
    opened no later than the lock was taken, is still open: a killed process's connection
    closes with it. A later run waiting for the lock may carry the same pid (containers
    number processes alike) but connected after the lock was taken, so it does not count.
    """
    engine = engine_for(settings)
    try:
        with engine.connect() as conn:
            if conn.execute(text(f"SELECT to_regclass('{LOCK_TABLE}')")).scalar() is None:
                return None
            row = conn.execute(
                text(
                    f"""SELECT pid, extract(epoch FROM (now() AT TIME ZONE 'UTC') - ctime),
                               ctime
                        FROM {LOCK_TABLE}"""
                )
            ).first()
            if row is None:
                return None
            pid, age_s, ctime = int(row[0]), float(row[1]), row[2]
            alive = conn.execute(
                text(
                    """SELECT count(*) FROM pg_stat_activity
                       WHERE application_name = :name AND pid <> pg_backend_pid()
                         AND backend_start <= (CAST(:ctime AS timestamp) AT TIME ZONE 'UTC')
                                              + make_interval(secs => :skew)"""
                ),
                {"name": application_name(pid), "ctime": ctime, "skew": CLOCK_SKEW_S},
            ).scalar()
    finally:
        engine.dispose()
    return LockHolder(pid=pid, age_s=round(age_s, 1), alive=bool(alive))


def break_lock(settings: Settings) -> LockHolder | None:
    """Delete a dead holder's lock row and return it; a live holder's is left alone."""
    holder = lock_holder(settings)
    if holder is None or holder.alive:
        return holder
    engine = engine_for(settings)
    try:
        with engine.begin() as conn:
            conn.execute(text(f"DELETE FROM {LOCK_TABLE} WHERE pid = :pid"), {"pid": holder.pid})
    finally:
        engine.dispose()
    return holder


#: Tables written and deleted within minutes; 0005_autovacuum tunes their autovacuum.
CHURNING_TABLES = ("blobs", "job_pages", "job_parts")


def bloat(settings: Settings) -> list[dict[str, Any]]:
    """Dead rows and sizes of Folio's tables, largest first."""
    engine = engine_for(settings)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    """SELECT s.relname, s.n_live_tup, s.n_dead_tup,
                              pg_total_relation_size(s.relid), s.last_autovacuum,
                              s.last_vacuum, s.autovacuum_count, c.reloptions
                       FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
                       WHERE s.schemaname = current_schema() AND s.relname = ANY(:tables)
                       ORDER BY pg_total_relation_size(s.relid) DESC"""
                ),
                {"tables": list(EXPECTED_COLUMNS)},
            ).all()
    finally:
        engine.dispose()
    report = []
    for name, live, dead, size, last_auto, last_manual, auto_count, options in rows:
        total = live + dead
        report.append(
            {
                "table": name,
                "live_rows": live,
                "dead_rows": dead,
                "dead_pct": round(100.0 * dead / total, 1) if total else 0.0,
                "total_mb": round(size / (1024 * 1024), 2),
                "last_autovacuum": last_auto.isoformat() if last_auto else None,
                "last_vacuum": last_manual.isoformat() if last_manual else None,
                "autovacuum_count": auto_count,
                "autovacuum_tuned": any(
                    o.startswith("autovacuum_vacuum_scale_factor=") for o in options or []
                ),
            }
        )
    return report


def describe_failure(exc: BaseException, settings: Settings) -> tuple[str, dict[str, Any]]:
    """One line saying what went wrong and what to do, and the fields of its log line."""
    first = (str(exc).strip().splitlines() or [""])[0]
    fields: dict[str, Any] = {"error_type": type(exc).__name__}
    if isinstance(exc, LockTimeout):
        holder = lock_holder(settings)
        if holder is not None:
            fields |= {"holder_pid": holder.pid, "holder_age_s": holder.age_s}
            fields["holder_alive"] = holder.alive
        return (
            f"another migration holds the lock after {LOCK_TIMEOUT_S}s; if none is running, "
            "run `folio-migrate break-lock`",
            fields,
        )
    if "SSL" in first or "ssl" in first:
        fields["setting"] = "DB_SSLMODE"
        return (
            f"database refused the SSL mode (DB_SSLMODE={settings.db_sslmode!r}): {first}",
            fields,
        )
    return (f"{type(exc).__name__}: {first}", fields)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="folio-migrate", description=__doc__.split("\n")[0])
    parser.add_argument(
        "command",
        choices=["apply", "verify", "rollback", "break-lock", "bloat"],
        nargs="?",
        default="apply",
    )
    parser.add_argument(
        "--wait-s",
        type=float,
        default=float(timings.DEPENDENCY_WAIT_S),
        help="seconds to wait for the database",
    )
    parser.add_argument("--all", action="store_true", help="rollback: every migration")
    args = parser.parse_args(argv)
    settings = for_migrations(start_process("migrate"))
    try:
        wait_for_database(settings, args.wait_s)
    except DependencyUnavailable as exc:
        log.error(str(exc))
        return 1
    try:
        return run(args.command, settings, everything=args.all)
    except Exception as exc:  # one JSON line, not a traceback, whatever failed
        message, fields = describe_failure(exc, settings)
        log.error(redact_text(message), command=args.command, **fields)
        return 1


def run(command: str, settings: Settings, *, everything: bool = False) -> int:
    """Run one ``folio-migrate`` command; its exit status."""
    if command == "apply":
        applied = apply(settings)
        log.info("migrations applied" if applied else "schema up to date", applied=applied)
        return 0
    if command == "rollback":
        log.info("migrations rolled back", rolled_back=rollback(settings, everything=everything))
        return 0
    if command == "break-lock":
        holder = break_lock(settings)
        if holder is None:
            log.info("no migration lock is held")
            return 0
        fields = {"holder_pid": holder.pid, "holder_age_s": holder.age_s}
        if holder.alive:
            log.error("refusing to break the lock: its holder is still connected", **fields)
            return 1
        log.info("migration lock broken", **fields)
        return 0
    if command == "bloat":
        for table in bloat(settings):
            log.info("table bloat", **table)
        return 0
    problems = verify(settings)
    if problems:
        log.error("schema differs from what the code expects", problems=problems)
        return 1
    log.info("schema verified")
    return 0


if __name__ == "__main__":
    sys.exit(main())
