"""Folio's whole Railway project as Infrastructure as Code (``railway-sdk``).

One file owns the environment: a Redis, the ``api`` service and the ``worker`` service,
each built from its Dockerfile in this folder with the repository root as build context,
and the variables each needs. ``DATABASE_URL`` (the Supabase transaction pooler URL),
``MIGRATE_DATABASE_URL`` (its session pooler URL, for the pre-deploy) and ``API_KEYS`` are
Railway *shared variables* that you set once per environment, before the first apply;
everything else is declared here. docs/deployment/railway.md explains every value.

The Railway CLI evaluates this file (``railway config plan`` / ``apply``): it finds
``.railway/railway.py`` (which loads this file) from the working directory upwards, imports
it with ``python3`` and calls :func:`main` **with no argument** (CLI v5.43.1,
``src/iac/eval.rs``), so the CLI tells the file nothing about the environment. The
environment therefore comes from one explicit source, the variable named by
:data:`ENVIRONMENT_VARIABLE`, set on the command line::

    FOLIO_RAILWAY_ENVIRONMENT=production railway config plan

A missing or unknown name fails the plan with one line on stderr; nothing falls back to
staging's sizes. deploy/railway/tests/test_railway_iac.py evaluates the file exactly as the
CLI does, for each environment, so a change that would break a deploy fails ``make test``.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from typing import Any, NoReturn

from railway_sdk import (  # type: ignore[import-untyped]
    Project,
    Service,
    create_railway_context,
    define_railway,
    github,
    project,
    redis,
    service,
)

#: The variable that names the environment being planned or applied.
ENVIRONMENT_VARIABLE = "FOLIO_RAILWAY_ENVIRONMENT"

#: Project name shown in Railway.
PROJECT = "folio"

#: ``owner/repo`` of your fork to let this file connect the services to GitHub; ``None``
#: leaves the source to the dashboard (Service → Settings → Source → Connect Repo).
GITHUB_REPO: str | None = None
#: Branch Railway deploys from when ``GITHUB_REPO`` is set.
GITHUB_BRANCH = "main"

#: Folio's deadlines (folio_common/timings.py), loaded by path: the CLI's ``python3``
#: has railway-sdk but need not have Folio installed. Every timing below derives from it.
_TIMINGS_FILE = Path(__file__).resolve().parents[2] / "libs/common/src/folio_common/timings.py"
_spec = importlib.util.spec_from_file_location("folio_timings", _TIMINGS_FILE)
assert _spec is not None and _spec.loader is not None
timings = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(timings)

#: Seconds a stopping worker lets running parts finish (``WORKER_SHUTDOWN_TIMEOUT_S``).
WORKER_SHUTDOWN_TIMEOUT_S: int = timings.WORKER_SHUTDOWN_TIMEOUT_S
#: Longest long-poll the API holds (``MAX_WAIT_S``); gunicorn's graceful timeout and the
#: API's draining are derived from it.
API_MAX_WAIT_S: int = timings.LONGEST_LONG_POLL_S
#: Seconds Railway waits for the API's first 200: ``folio-api serve`` waits for each
#: dependency in turn, then gunicorn boots.
API_HEALTHCHECK_TIMEOUT_S: int = timings.api_healthcheck_timeout_s()

#: The one region every replica runs in: the Supabase project's region (or the nearest
#: Railway region to it), since every query is a round trip to Supabase. Change it here.
REGION = "europe-west4-drams3a"

API_HEALTHCHECK_PATH = "/api/v1/health"
API_START = "folio-api serve"
#: The pre-deploy command runs in its own container from the service's image, before the
#: new code starts, on both services: a worker reading a new column must not start before
#: its migration. ``&&`` needs a shell; with a Dockerfile Railway execs without one.
#: Applying twice is safe: yoyo's lock serialises the two, the second finds nothing pending.
PRE_DEPLOY = '/bin/sh -c "folio-migrate apply && folio-migrate verify"'
WORKER_START = "folio-worker run"

#: Changes that rebuild both services: the shared library, the schema, the lock, the
#: workspace manifest. Gitignore-style, evaluated from the repository root.
SHARED_WATCH = [
    "libs/common/**",
    "migrations/**",
    "uv.lock",
    "pyproject.toml",
    "services/*/pyproject.toml",
]
API_WATCH = ["services/api/**", *SHARED_WATCH, "deploy/railway/Dockerfile.api"]
WORKER_WATCH = ["services/worker/**", *SHARED_WATCH, "deploy/railway/Dockerfile.worker"]

#: Per-environment sizes. Each process holds at most DB_POOL_SIZE + DB_MAX_OVERFLOW
#: connections; the budget (see connection_budget and .env.production.example) must fit
#: the Supabase pooler. The API's pool is WEB_THREADS with no overflow: an overflow
#: connection is closed when it is returned, so a smaller pool would open and close a
#: connection per request under load. The worker's pool is WORKER_THREADS + 1: one
#: connection per thread plus one for the heartbeat and the sweeper, so a thread never
#: waits on the pool.
SIZES: dict[str, dict[str, int]] = {
    "production": {
        "api_replicas": 2,
        "web_concurrency": 2,
        "web_threads": 8,
        "api_pool_size": 8,
        "api_max_overflow": 0,
        "worker_replicas": 2,
        "worker_processes": 2,
        "worker_threads": 2,
        "worker_pool_size": 3,
        "worker_max_overflow": 1,
    },
    "staging": {
        "api_replicas": 1,
        "web_concurrency": 2,
        "web_threads": 4,
        "api_pool_size": 4,
        "api_max_overflow": 0,
        "worker_replicas": 1,
        "worker_processes": 1,
        "worker_threads": 2,
        "worker_pool_size": 3,
        "worker_max_overflow": 0,
    },
}
#: Connections the pre-deploy migrations hold: both services run one, each holds yoyo's
#: lock connection plus the one a migration runs on.
MIGRATE_CONNECTIONS = 4


class UnknownEnvironment(ValueError):
    """The environment to plan is missing or not one :data:`SIZES` declares."""


def sizes_for(environment: str | None) -> dict[str, int]:
    """The sizes of a declared environment; anything else is an error, never a fallback."""
    if environment not in SIZES:
        known = ", ".join(sorted(SIZES))
        shown = repr(environment) if environment else "no environment"
        raise UnknownEnvironment(
            f"railway.py: {shown} is not one of {known}; run "
            f"`{ENVIRONMENT_VARIABLE}=<{'|'.join(sorted(SIZES))}> railway config plan`"
        )
    return SIZES[environment]


def environment_of(ctx: Any, environ: dict[str, str] | None = None) -> str:
    """The environment from :data:`ENVIRONMENT_VARIABLE`, checked against the context's.

    A CLI that passes a context naming its environment must agree with the variable, so
    a plan for one environment can never carry another's sizes.
    """
    environ = dict(os.environ) if environ is None else environ
    declared = environ.get(ENVIRONMENT_VARIABLE, "").strip() or None
    given = getattr(ctx, "environment", None) if ctx is not None else None
    if given and declared and given != declared:
        raise UnknownEnvironment(
            f"railway.py: {ENVIRONMENT_VARIABLE}={declared} but the CLI plans {given}"
        )
    environment = declared or given
    sizes_for(environment)
    assert environment is not None
    return str(environment)


def _fail(message: str) -> NoReturn:
    """One line on stderr and a non-zero exit: the CLI shows it and fails the plan."""
    print(message, file=sys.stderr)
    raise SystemExit(2)


def connection_budget(sizes: dict[str, int], *, redeploying: bool = True) -> int:
    """Most client connections Folio opens to the pooler at once.

    Steady state is every process's full pool. While a service redeploys, the old
    deployment keeps its connections until it has drained and the new one already holds
    its own, so ``redeploying`` counts both services twice (a change to libs/common
    redeploys both), plus the two pre-deploy migrations.
    """
    api = sizes["api_replicas"] * sizes["web_concurrency"]
    api *= sizes["api_pool_size"] + sizes["api_max_overflow"]
    worker = sizes["worker_replicas"] * sizes["worker_processes"]
    worker *= sizes["worker_pool_size"] + sizes["worker_max_overflow"]
    steady = api + worker
    return (2 * steady if redeploying else steady) + MIGRATE_CONNECTIONS


def _source() -> dict[str, Any] | None:
    return github(GITHUB_REPO, branch=GITHUB_BRANCH) if GITHUB_REPO else None


def _dockerfile_build(path: str, watch: list[str]) -> dict[str, Any]:
    return {"builder": "DOCKERFILE", "dockerfilePath": path, "watchPatterns": watch}


@define_railway  # type: ignore[untyped-decorator]  # railway-sdk ships no type hints
def main(ctx: Any = None) -> Project:
    """The desired Railway graph for the environment :func:`environment_of` names."""
    try:
        environment = environment_of(ctx)
    except UnknownEnvironment as exc:
        _fail(str(exc))
    ctx = create_railway_context(environment=environment)
    size = sizes_for(environment)
    cache: Service = redis("redis", region=REGION)

    shared = {
        "FOLIO_ENV": "production",
        "DATABASE_URL": ctx.shared.DATABASE_URL,
        # The pre-deploy's URL (session pooler or direct); unset → DATABASE_URL.
        "MIGRATE_DATABASE_URL": ctx.shared.MIGRATE_DATABASE_URL,
        "DB_SSLMODE": "require",
        "REDIS_URL": cache.env.REDIS_URL,
        "API_KEYS": ctx.shared.API_KEYS,
        "LOG_LEVEL": "info",
        "LOG_FORMAT": "json",
    }
    api_draining_s = timings.api_draining_s(API_MAX_WAIT_S)
    api = service(
        "api",
        source=_source(),
        build=_dockerfile_build("deploy/railway/Dockerfile.api", API_WATCH),
        start=API_START,
        preDeploy=PRE_DEPLOY,
        healthcheck=API_HEALTHCHECK_PATH,
        healthcheckTimeout=API_HEALTHCHECK_TIMEOUT_S,
        replicas={REGION: size["api_replicas"]},
        deploy={
            "restartPolicyType": "ON_FAILURE",
            "restartPolicyMaxRetries": 10,
            # The old deployment keeps serving this long after the new one is healthy,
            # then gets SIGTERM and up to drainingSeconds to finish in-flight requests.
            "overlapSeconds": timings.API_OVERLAP_S,
            "drainingSeconds": api_draining_s,
        },
        env={
            **shared,
            "WEB_CONCURRENCY": str(size["web_concurrency"]),
            "WEB_THREADS": str(size["web_threads"]),
            "DB_POOL_SIZE": str(size["api_pool_size"]),
            "DB_MAX_OVERFLOW": str(size["api_max_overflow"]),
            "MAX_WAIT_S": str(API_MAX_WAIT_S),
            # The documented variable equivalents of the build/deploy settings above, so
            # the service behaves the same if a CLI drops a field it does not know yet.
            "RAILWAY_DOCKERFILE_PATH": "deploy/railway/Dockerfile.api",
            "RAILWAY_HEALTHCHECK_TIMEOUT_SEC": str(API_HEALTHCHECK_TIMEOUT_S),
            "RAILWAY_DEPLOYMENT_DRAINING_SECONDS": str(api_draining_s),
        },
    )
    worker_draining_s = timings.worker_draining_s(WORKER_SHUTDOWN_TIMEOUT_S)
    worker = service(
        "worker",
        source=_source(),
        build=_dockerfile_build("deploy/railway/Dockerfile.worker", WORKER_WATCH),
        start=WORKER_START,
        preDeploy=PRE_DEPLOY,
        # No health check: the worker serves no HTTP; Railway marks it active once started.
        replicas={REGION: size["worker_replicas"]},
        deploy={
            "restartPolicyType": "ON_FAILURE",
            "restartPolicyMaxRetries": 10,
            "drainingSeconds": worker_draining_s,
        },
        env={
            **shared,
            "WORKER_PROCESSES": str(size["worker_processes"]),
            "WORKER_THREADS": str(size["worker_threads"]),
            "WORKER_SHUTDOWN_TIMEOUT_S": str(WORKER_SHUTDOWN_TIMEOUT_S),
            "DB_POOL_SIZE": str(size["worker_pool_size"]),
            "DB_MAX_OVERFLOW": str(size["worker_max_overflow"]),
            "RAILWAY_DOCKERFILE_PATH": "deploy/railway/Dockerfile.worker",
            "RAILWAY_DEPLOYMENT_DRAINING_SECONDS": str(worker_draining_s),
        },
    )
    return project(PROJECT, resources=[cache, api, worker])
