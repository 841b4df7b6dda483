"""``folio-worker``: run the worker, check its liveness, or sweep once.

``run`` is the worker container's command: it validates the settings, waits (bounded)
for PostgreSQL and Redis, then becomes the Dramatiq master in this same process, so
signals from the platform reach it directly. The master exits non-zero when a worker
process dies (Dramatiq does not respawn one), so the platform restarts the container;
whatever the dead process held is redelivered or swept.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys

from folio_common import memory_budget, timings, worker_reports
from folio_common.bootstrap import start_process
from folio_common.connections import Connections, Role
from folio_common.logs import get_logger
from folio_common.redis_client import create_redis
from folio_common.settings import Settings
from folio_common.wait import DependencyUnavailable, wait_for_dependencies

log = get_logger("folio.worker")

#: Seconds ``run`` waits for each of PostgreSQL and Redis before giving up (the platform
#: restarts it); one number for every start command, see folio_common.timings.
STARTUP_WAIT_S = float(timings.DEPENDENCY_WAIT_S)
#: Longest wait of an idle queue's consumer on its doorbell, in milliseconds
#: (folio_common.doorbell): enqueues wake it at once; this only bounds how late a message
#: whose wake-up token was lost is seen, and how fast an idle consumer notices shutdown.
POLL_INTERVAL_MS = 1000


def dramatiq_args(settings: Settings) -> list[str]:
    return [
        "folio_worker.boot",
        "folio_worker.actors",
        "--processes", str(settings.worker_processes),
        "--threads", str(settings.worker_threads),
        "--worker-shutdown-timeout", str(settings.worker_shutdown_timeout_s * 1000),
        "--skip-logging",
    ]  # fmt: skip


def size_sandboxes(settings: Settings) -> bool:
    """Fit the sandboxes' memory limit to the container's (False: it cannot fit at all).

    The worker processes Dramatiq forks read ``JOB_MEMORY_LIMIT_MB`` from the environment.
    """
    limit_mb = memory_budget.read_memory_limit_mb()
    plan = memory_budget.plan(
        limit_mb, settings.worker_processes, settings.worker_threads, settings.job_memory_limit_mb
    )
    if not plan.fits:
        log.error(memory_budget.describe(plan), container_mb=limit_mb, base_mb=plan.base_mb)
        return False
    if plan.lowered:
        os.environ["JOB_MEMORY_LIMIT_MB"] = str(plan.sandbox_limit_mb)
        log.warning(
            "sandbox memory limit lowered to fit the container",
            container_mb=limit_mb,
            sandbox_limit_mb=plan.sandbox_limit_mb,
            requested_mb=plan.requested_mb,
            worst_case_mb=plan.worst_case_mb,
        )
    return True


def run(settings: Settings) -> int:
    # Idle consumers wait on their doorbell at most this long, then fetch again. Read when
    # dramatiq is first imported, so set it first.
    os.environ.setdefault("dramatiq_worker_timeout", str(POLL_INTERVAL_MS))
    import dramatiq.cli

    if not size_sandboxes(settings):
        return 2
    try:
        wait_for_dependencies(settings, STARTUP_WAIT_S)
    except DependencyUnavailable as exc:
        log.error(str(exc))
        return 1
    log.info(
        "starting worker",
        processes=settings.worker_processes,
        threads=settings.worker_threads,
        shutdown_timeout_s=settings.worker_shutdown_timeout_s,
    )
    parser = dramatiq.cli.make_argument_parser()  # type: ignore[no-untyped-call]
    return int(dramatiq.cli.main(parser.parse_args(dramatiq_args(settings))) or 0)  # type: ignore[no-untyped-call]


def healthcheck(settings: Settings) -> int:
    """0 when a worker process on this host beat recently and takes jobs, 1 otherwise."""
    from .schema_guard import waiting

    host = socket.gethostname()
    try:
        client = create_redis(settings)
        alive = worker_reports.alive(client, settings, prefix=f"{host}:")
        held = waiting(client, settings, prefix=f"{host}:")
    except Exception as exc:
        log.error("worker healthcheck failed", error=f"{type(exc).__name__}: {exc}")
        return 1
    if held:
        log.error("worker waiting for the schema: taking no job", workers=held)
        return 1
    if alive:
        log.info("worker alive", workers=alive)
        return 0
    log.error("no live worker process on this host", host=host)
    return 1


def sweep(settings: Settings) -> int:
    """One sweep with only what sweeping needs: no worker runtime, no sandbox."""
    from folio_common.sweeper import Sweeper, sweep_once

    conns = Connections.for_role(settings, Role.CLI)
    try:
        report = sweep_once(Sweeper(conns.lifecycle(), conns.blobs))
    finally:
        conns.close()
    if report is None:
        log.info("another process is sweeping; nothing done")
    else:
        log.info("sweep done", **report.as_dict())
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="folio-worker", description="Folio's PDF worker.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="run the Dramatiq worker in the foreground")
    commands.add_parser("healthcheck", help="exit 0 if a worker on this host is alive")
    commands.add_parser("sweep", help="run the sweeper once now")
    args = parser.parse_args(argv)
    settings = start_process("worker")
    handlers = {"run": run, "healthcheck": healthcheck, "sweep": sweep}
    return handlers[args.command](settings)


if __name__ == "__main__":
    sys.exit(main())
