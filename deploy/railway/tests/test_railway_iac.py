"""The Railway project graph that deploy/railway/railway.py declares, asserted offline.

The file is evaluated the way the Railway CLI (v5.43.1, ``src/iac/eval.rs``) evaluates
it: a separate ``python3`` imports ``.railway/railway.py`` from the repository root by file
path, calls ``main()`` with no argument and prints the graph as JSON. The environment is
set the documented way (``FOLIO_RAILWAY_ENVIRONMENT``), so a change that would break a
deploy — production planned with staging's sizes, a renamed command, a health check on
the worker, draining shorter than the worker's shutdown timeout, a watch pattern that
misses a rebuild, a variable Folio cannot parse — fails here first.
"""

from __future__ import annotations

import fnmatch
import importlib.util
import json
import os
import re
import shlex
import subprocess
import sys
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from folio_common import timings
from folio_common.settings import Settings, describe
from railway_sdk import create_railway_context  # type: ignore[import-untyped]

# The IaC file is evaluated in a fresh interpreter, as the Railway CLI does.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[3]
IAC = ROOT / "deploy" / "railway" / "railway.py"
#: The file the CLI finds from the repository root without ``--file``.
ENTRY = ROOT / ".railway" / "railway.py"
#: What the CLI runs: import the file by path, call ``main`` with no argument, print JSON.
CLI_EVAL = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("railway_sdk_user", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
project = module.main()
print(json.dumps({"project": project.to_graph()}, default=str))
"""

#: Supavisor's client limit on the smallest Supabase computes (Nano/Micro): the budget
#: with every deployment redeploying at once must stay under it.
SUPAVISOR_MAX_CLIENTS_SMALLEST = 200
#: Railway's default health-check window; a longer timeout is allowed but not needed.
RAILWAY_DEFAULT_HEALTHCHECK_TIMEOUT_S = 300
#: How long ``folio-api serve`` may wait for Postgres and Redis before gunicorn starts
#: (deploy/railway/tests/test_timings.py checks the start command uses the same).
API_DEPENDENCY_WAIT_S = timings.startup_wait_s()
ENVIRONMENTS = ("staging", "production")
#: ``deploy`` keys in Railway's config schema (research/railway.md 1.2, railway.schema.json).
DOCUMENTED_DEPLOY_FIELDS = {
    "cronSchedule", "drainingSeconds", "healthcheckPath", "healthcheckTimeout",
    "limitOverride", "multiRegionConfig", "numReplicas", "overlapSeconds",
    "preDeployCommand", "region", "registryCredentials", "requiredMountPath",
    "restartPolicyMaxRetries", "restartPolicyType", "runtime", "sleepApplication",
    "startCommand",
}  # fmt: skip


def evaluate_as_the_cli(
    environment: str | None, file: Path = ENTRY
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "FOLIO_RAILWAY_ENVIRONMENT"}
    if environment is not None:
        env["FOLIO_RAILWAY_ENVIRONMENT"] = environment
    return subprocess.run(
        [sys.executable, "-c", CLI_EVAL, str(file)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def load_iac() -> ModuleType:
    spec = importlib.util.spec_from_file_location("folio_railway_iac", IAC)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


IAC_MODULE = load_iac()


@cache
def graph(environment: str) -> dict[str, Any]:
    done = evaluate_as_the_cli(environment)
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)["project"]
    return result


def resources(environment: str) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in graph(environment)["resources"]}


def literal(resource: dict[str, Any], name: str) -> str:
    value = resource["variables"][name]
    assert value["type"] == "literal", f"{resource['name']}.{name} is not a literal"
    return str(value["value"])


def replicas(resource: dict[str, Any]) -> int:
    """Replicas across the service's regions (the IaC pins them to one)."""
    regions = resource["deploy"]["multiRegionConfig"]
    return sum(int(r["numReplicas"]) for r in regions.values())


def watched(patterns: list[str], path: str) -> bool:
    """Gitignore-style enough for these patterns: ``**`` and ``*`` cross directories."""
    return any(fnmatch.fnmatchcase(path, p) for p in patterns)


def dockerfile_copies(dockerfile: Path) -> list[str]:
    """Build-context paths the Dockerfile copies (not ``COPY --from`` of another stage)."""
    sources: list[str] = []
    for line in dockerfile.read_text().splitlines():
        parts = line.split()
        if parts[:1] == ["COPY"] and not any(p.startswith("--from") for p in parts):
            sources += [p for p in parts[1:-1] if not p.startswith("--")]
    return sources


@pytest.fixture(params=ENVIRONMENTS)
def env_resources(request: pytest.FixtureRequest) -> dict[str, dict[str, Any]]:
    return resources(request.param)


def test_project_declares_redis_api_and_worker_only(
    env_resources: dict[str, dict[str, Any]],
) -> None:
    assert set(env_resources) == {"redis", "api", "worker"}
    assert env_resources["redis"]["type"] == "database"
    assert env_resources["redis"]["engine"] == "redis"
    assert graph("production")["name"] == "folio"


def test_services_build_from_their_dockerfile_at_the_repository_root(
    env_resources: dict[str, dict[str, Any]],
) -> None:
    for name in ("api", "worker"):
        build = env_resources[name]["build"]
        assert build["builder"] == "DOCKERFILE"
        assert build["dockerfilePath"] == f"deploy/railway/Dockerfile.{name}"
        assert (ROOT / build["dockerfilePath"]).is_file()
        assert literal(env_resources[name], "RAILWAY_DOCKERFILE_PATH") == build["dockerfilePath"]
        # A root directory would cut libs/common and uv.lock out of the build context.
        assert "rootDirectory" not in (env_resources[name].get("source") or {})


def test_start_commands_match_the_images_and_need_no_shell_expansion(
    env_resources: dict[str, dict[str, Any]],
) -> None:
    expected = {"api": ["folio-api", "serve"], "worker": ["folio-worker", "run"]}
    for name, argv in expected.items():
        start = env_resources[name]["deploy"]["startCommand"]
        assert shlex.split(start) == argv
        # Railway execs a Dockerfile service's start command without a shell: a literal
        # $PORT would reach the program unexpanded. Folio reads PORT from the environment.
        assert "$" not in start
        dockerfile = (ROOT / f"deploy/railway/Dockerfile.{name}").read_text()
        cmd = re.search(r"^CMD (\[.*\])$", dockerfile, re.M)
        assert cmd is not None and json.loads(cmd.group(1)) == argv  # exec form


def test_both_services_apply_then_verify_migrations_before_their_code_starts(
    env_resources: dict[str, dict[str, Any]],
) -> None:
    for name in ("api", "worker"):
        pre_deploy = env_resources[name]["deploy"]["preDeployCommand"]
        assert len(pre_deploy) == 1  # Railway's schema: at most one command
        assert shlex.split(pre_deploy[0]) == [
            "/bin/sh",
            "-c",
            "folio-migrate apply && folio-migrate verify",
        ]


def test_api_health_check_outlasts_the_dependency_wait(
    env_resources: dict[str, dict[str, Any]],
) -> None:
    deploy = env_resources["api"]["deploy"]
    assert deploy["healthcheckPath"] == "/api/v1/health"
    timeout = deploy["healthcheckTimeout"]
    assert API_DEPENDENCY_WAIT_S < timeout <= RAILWAY_DEFAULT_HEALTHCHECK_TIMEOUT_S
    assert literal(env_resources["api"], "RAILWAY_HEALTHCHECK_TIMEOUT_SEC") == str(timeout)


def test_worker_has_no_health_check(env_resources: dict[str, dict[str, Any]]) -> None:
    deploy = env_resources["worker"]["deploy"]
    assert "healthcheckPath" not in deploy
    assert "healthcheckTimeout" not in deploy


def test_worker_draining_outlasts_its_shutdown_timeout(
    env_resources: dict[str, dict[str, Any]],
) -> None:
    worker = env_resources["worker"]
    shutdown_s = int(literal(worker, "WORKER_SHUTDOWN_TIMEOUT_S"))
    draining_s = worker["deploy"]["drainingSeconds"]
    assert draining_s >= shutdown_s + 10
    assert literal(worker, "RAILWAY_DEPLOYMENT_DRAINING_SECONDS") == str(draining_s)


def test_api_draining_outlasts_a_long_poll(env_resources: dict[str, dict[str, Any]]) -> None:
    api = env_resources["api"]
    draining_s = api["deploy"]["drainingSeconds"]
    assert draining_s > int(literal(api, "MAX_WAIT_S"))
    assert literal(api, "RAILWAY_DEPLOYMENT_DRAINING_SECONDS") == str(draining_s)


def test_redis_url_references_the_redis_service(
    env_resources: dict[str, dict[str, Any]],
) -> None:
    redis = env_resources["redis"]
    for name in ("api", "worker"):
        ref = env_resources[name]["variables"]["REDIS_URL"]
        assert ref == {"type": "reference", "resource": redis["address"], "output": "REDIS_URL"}
        assert redis["output"] == "REDIS_URL"


def test_secrets_come_from_shared_variables(
    env_resources: dict[str, dict[str, Any]],
) -> None:
    for name in ("api", "worker"):
        variables = env_resources[name]["variables"]
        for shared in ("DATABASE_URL", "MIGRATE_DATABASE_URL", "API_KEYS"):
            assert variables[shared] == {"type": "sharedReference", "name": shared}
        assert literal(env_resources[name], "FOLIO_ENV") == "production"
        assert literal(env_resources[name], "DB_SSLMODE") == "require"


def test_every_variable_is_a_folio_setting_with_a_valid_value(
    env_resources: dict[str, dict[str, Any]],
) -> None:
    known = {row[0] for row in describe()}
    for name in ("api", "worker"):
        variables = env_resources[name]["variables"]
        folio = {k: v for k, v in variables.items() if not k.startswith("RAILWAY_")}
        assert set(folio) <= known, f"{name}: unknown {set(folio) - known}"
        environ = {k: v["value"] for k, v in folio.items() if v["type"] == "literal"}
        # Stand-ins for the references Railway resolves at deploy time.
        environ |= {
            "DATABASE_URL": "postgres://u:p@aws-0-eu-west-1.pooler.supabase.com:6543/postgres",
            "REDIS_URL": "redis://default:p@redis.railway.internal:6379",
            "API_KEYS": "ops:0123456789abcdef0123",
        }
        Settings.from_env(environ)


def test_worker_pool_covers_its_threads(env_resources: dict[str, dict[str, Any]]) -> None:
    worker = env_resources["worker"]
    assert int(literal(worker, "DB_POOL_SIZE")) >= int(literal(worker, "WORKER_THREADS")) + 1
    # Pinned: the default (the CPU quota) would follow Railway's host size.
    assert "WORKER_PROCESSES" in worker["variables"]


def test_connection_budget_fits_the_smallest_supabase_pooler() -> None:
    for environment in ENVIRONMENTS:
        sizes = IAC_MODULE.sizes_for(environment)
        assert IAC_MODULE.connection_budget(sizes) <= SUPAVISOR_MAX_CLIENTS_SMALLEST
    # And the declared variables are the ones the budget counts.
    prod = resources("production")
    api, worker = prod["api"], prod["worker"]
    counted = replicas(api) * int(literal(api, "WEB_CONCURRENCY")) * (
        int(literal(api, "DB_POOL_SIZE")) + int(literal(api, "DB_MAX_OVERFLOW"))
    ) + replicas(worker) * int(literal(worker, "WORKER_PROCESSES")) * (
        int(literal(worker, "DB_POOL_SIZE")) + int(literal(worker, "DB_MAX_OVERFLOW"))
    )
    sizes = IAC_MODULE.sizes_for("production")
    assert IAC_MODULE.connection_budget(sizes, redeploying=False) == counted + 4


def test_production_graph_carries_production_sizes_not_stagings() -> None:
    prod, staging = resources("production"), resources("staging")
    assert graph("production") != graph("staging")
    sizes = IAC_MODULE.SIZES["production"]
    assert replicas(prod["api"]) == sizes["api_replicas"] == 2
    assert replicas(prod["worker"]) == sizes["worker_replicas"] == 2
    assert literal(prod["api"], "WEB_THREADS") == str(sizes["web_threads"]) == "8"
    assert literal(prod["api"], "DB_POOL_SIZE") == str(sizes["api_pool_size"])
    assert literal(prod["worker"], "WORKER_PROCESSES") == str(sizes["worker_processes"])
    for name in ("api", "worker"):
        assert replicas(prod[name]) > replicas(staging[name])


@pytest.mark.parametrize("environment", [None, "", "prod", "pr-42"])
def test_no_or_an_unknown_environment_fails_the_plan_with_one_line(
    environment: str | None,
) -> None:
    done = evaluate_as_the_cli(environment)
    assert done.returncode != 0
    assert done.stdout == ""
    (line,) = done.stderr.strip().splitlines()
    assert "FOLIO_RAILWAY_ENVIRONMENT" in line
    assert "production" in line and "staging" in line


def test_the_deploy_folder_file_evaluates_like_the_entry_point() -> None:
    done = evaluate_as_the_cli("production", file=IAC)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["project"] == graph("production")


def test_a_context_naming_another_environment_is_refused() -> None:
    ctx = create_railway_context(environment="staging")
    with pytest.raises(IAC_MODULE.UnknownEnvironment, match="but the CLI plans staging"):
        IAC_MODULE.environment_of(ctx, {"FOLIO_RAILWAY_ENVIRONMENT": "production"})
    assert IAC_MODULE.environment_of(ctx, {}) == "staging"


def test_every_replica_runs_in_the_one_region() -> None:
    for environment in ENVIRONMENTS:
        found = resources(environment)
        for name in ("api", "worker", "redis"):
            regions = found[name]["deploy"]["multiRegionConfig"]
            assert list(regions) == [IAC_MODULE.REGION], name


def test_no_deploy_field_outside_railways_documented_set() -> None:
    # Railway's config reference and the saved schema (research/railway.md 1.2): a
    # field no Railway source documents (preDeployTimeoutSeconds) is not relied on.
    for environment in ENVIRONMENTS:
        for name in ("api", "worker"):
            assert set(resources(environment)[name]["deploy"]) <= DOCUMENTED_DEPLOY_FIELDS, name


@pytest.mark.parametrize(
    ("path", "api", "worker"),
    [
        ("services/api/src/folio_api/app.py", True, False),
        ("services/worker/src/folio_worker/actors.py", False, True),
        ("libs/common/src/folio_common/settings.py", True, True),
        ("migrations/0005_next.sql", True, True),
        ("uv.lock", True, True),
        ("pyproject.toml", True, True),
        ("deploy/railway/Dockerfile.api", True, False),
        ("deploy/railway/Dockerfile.worker", False, True),
        ("docs/troubleshooting.md", False, False),
        ("bench/throughput.py", False, False),
    ],
)
def test_watch_patterns_rebuild_exactly_the_affected_services(
    path: str, api: bool, worker: bool
) -> None:
    prod = resources("production")
    assert watched(prod["api"]["build"]["watchPatterns"], path) is api
    assert watched(prod["worker"]["build"]["watchPatterns"], path) is worker


def test_watch_patterns_cover_everything_the_image_copies() -> None:
    prod = resources("production")
    for name in ("api", "worker"):
        patterns = prod[name]["build"]["watchPatterns"]
        for source in dockerfile_copies(ROOT / f"deploy/railway/Dockerfile.{name}"):
            probe = source if (ROOT / source).is_file() else f"{source.rstrip('/')}/x.py"
            assert watched(patterns, probe), f"{name}: a change to {source} would not redeploy"


def test_dockerignore_lets_in_everything_the_images_copy() -> None:
    allowed = [
        line[1:].rstrip("/")
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.startswith("!")
    ]
    for name in ("api", "worker"):
        for copied in dockerfile_copies(ROOT / f"deploy/railway/Dockerfile.{name}"):
            source = copied.rstrip("/")
            assert any(source == a or source.startswith(a + "/") for a in allowed), source
