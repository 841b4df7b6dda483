"""Operator commands: ``migrate``, ``verify``, ``sweep``, ``stuck``, ``requeue``, ``health``.

They talk to PostgreSQL (``DATABASE_URL``) and Redis (``REDIS_URL``) directly, with the
same settings as the services (:mod:`folio_common.settings`), so run them where the
services run (a worker container, or a laptop with the production variables loaded).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

import psycopg2
import redis
import sqlalchemy.exc
from folio_common import fleet, jobs, migrate, worker_reports
from folio_common.connections import Connections, Role
from folio_common.health import postgres_probe, redis_probe, run_probes
from folio_common.logs import redact_text
from folio_common.requeue import requeue as requeue_job
from folio_common.settings import Settings
from folio_common.sweeper import Sweeper, sweep_once
from folio_common.uow import RetryPolicy

from .exits import FAILED, OK, UNREACHABLE, CliError

#: A command-line tool fails fast: two tries within five seconds, not the workers' budget.
CLI_POLICY = RetryPolicy(max_tries=2, max_time_s=5.0)


@contextmanager
def connections(settings: Settings) -> Iterator[Connections]:
    """The CLI role's connections (one pooled connection and a spare); unreachable ones
    become exit code 3."""
    conns = Connections.for_role(settings, Role.CLI)
    conns.db.policy = CLI_POLICY
    try:
        with unreachable_as_exit():
            yield conns
    finally:
        conns.close()


@contextmanager
def unreachable_as_exit() -> Iterator[None]:
    try:
        yield
    except (sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError) as exc:
        raise CliError(redact_text(f"database unreachable: {exc.orig}"), UNREACHABLE) from None
    except psycopg2.OperationalError as exc:
        raise CliError(redact_text(f"database unreachable: {exc}"), UNREACHABLE) from None
    except redis.ConnectionError as exc:
        raise CliError(redact_text(f"redis unreachable: {exc}"), UNREACHABLE) from None


def emit(doc: Any, as_json: bool, text: Callable[[], None]) -> None:
    if as_json:
        print(json.dumps(doc, default=str))
    else:
        text()


def migrate_cmd(args: argparse.Namespace, settings: Settings) -> int:
    with unreachable_as_exit():
        applied = migrate.apply(migrate.for_migrations(settings))
    print(f"applied: {', '.join(applied)}" if applied else "schema up to date")
    return OK


def verify_cmd(args: argparse.Namespace, settings: Settings) -> int:
    with unreachable_as_exit():
        problems = migrate.verify(settings)
    for problem in problems:
        print(problem)
    if not problems:
        print("schema verified")
    return FAILED if problems else OK


def sweep_cmd(args: argparse.Namespace, settings: Settings) -> int:
    with connections(settings) as conns:
        report = sweep_once(Sweeper(conns.lifecycle(), conns.blobs))
    if report is None:
        print("another process is sweeping; nothing done")
        return OK
    counts = report.as_dict()
    emit(counts, args.json, lambda: print(", ".join(f"{k}: {v}" for k, v in counts.items())))
    return OK


def _age_s(moment: datetime | None) -> float | None:
    return None if moment is None else (datetime.now(UTC) - moment).total_seconds()


def stuck_cmd(args: argparse.Namespace, settings: Settings) -> int:
    with connections(settings) as conns:
        found = conns.db.transaction(
            jobs.stale_jobs, settings.stuck_after_s, args.limit, lock=False
        )
    rows = [
        {
            "id": job.id,
            "owner": job.owner,
            "attempts": job.attempts,
            "silent_s": round(_age_s(job.heartbeat_at) or 0.0, 1),
            "filename": job.filename,
        }
        for job in found
    ]

    def text() -> None:
        if not rows:
            print(f"no stuck jobs (processing, silent > {settings.stuck_after_s:g}s)")
        for row in rows:
            print(
                f"{row['id']}  owner={row['owner']}  attempts={row['attempts']}  "
                f"silent {row['silent_s']:g}s  {row['filename'] or ''}".rstrip()
            )

    emit(rows, args.json, text)
    return FAILED if rows else OK


def requeue_cmd(args: argparse.Namespace, settings: Settings) -> int:
    with connections(settings) as conns:
        if args.id:
            ids = [args.id]
        else:
            ids = [job.id for job in conns.db.transaction(jobs.failed_since, args.since)]
            if not ids:
                print(f"no job failed in the last {args.since:g}s")
                return OK
        lifecycle = conns.lifecycle()
        outcomes = [requeue_job(lifecycle, conns.blobs, job_id) for job_id in ids]
    for outcome in outcomes:
        if args.json:
            print(json.dumps(asdict(outcome)))
        else:
            print(f"{outcome.job_id}  {'ok' if outcome.ok else 'refused'}: {outcome.reason}")
    return OK if all(o.ok for o in outcomes) else FAILED


def health_cmd(args: argparse.Namespace, settings: Settings) -> int:
    """Postgres and Redis probes, live workers, stuck jobs and queue depths."""
    conns = Connections.for_role(settings, Role.CLI)
    db, client = conns.db, conns.redis
    db.policy = CLI_POLICY
    try:
        probes = run_probes({"postgres": postgres_probe(db.engine), "redis": redis_probe(client)})
        doc: dict[str, Any] = {"checks": {name: r.as_dict() for name, r in probes.items()}}
        if probes["redis"].ok:
            doc["workers_alive"] = len(worker_reports.alive(client, settings))
            depths = fleet.queue_depths(client, settings)
            doc["queues"] = {name: asdict(depth) for name, depth in depths.items()}
        if probes["postgres"].ok:
            figures = db.transaction(fleet.job_figures, settings.stuck_after_s)
            doc["jobs"] = figures.as_dict()
    finally:
        conns.close()
    failing = [name for name, r in probes.items() if not r.ok]
    if doc.get("workers_alive") == 0:
        failing.append("workers")
    doc["status"] = "error" if failing else "ok"
    doc["failing"] = failing

    def text() -> None:
        for name, check in doc["checks"].items():
            reason = f" ({check['reason']})" if "reason" in check else ""
            print(f"{name}: {check['status']} {check['latency_ms']} ms{reason}")
        if "workers_alive" in doc:
            print(f"workers alive: {doc['workers_alive']}")
            queues = ", ".join(f"{n} {d['ready']}" for n, d in doc["queues"].items())
            print(f"queued messages: {queues}")
        if "jobs" in doc:
            by_status = ", ".join(f"{s} {n}" for s, n in doc["jobs"]["by_status"].items())
            print(f"jobs: {by_status}; stuck {doc['jobs']['stuck']}")
        print(f"status: {doc['status']}" + (f" (failing: {', '.join(failing)})" if failing else ""))

    emit(doc, args.json, text)
    return FAILED if failing else OK
