"""The deadlines of a deploy agree: each is derived from folio_common.timings and the
places that use them (gunicorn, the start commands, the settings, railway.py) use those."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from folio_common import timings
from folio_common.settings import Settings

pytestmark = pytest.mark.slow  # reads gunicorn's and the IaC file's figures from fresh interpreters

ROOT = Path(__file__).resolve().parents[3]


def gunicorn_graceful_timeout(env: dict[str, str]) -> int:
    """``graceful_timeout`` of the API's gunicorn configuration under ``env``."""
    code = "import folio_api.gunicorn_config as c; print(c.graceful_timeout)"
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={**env, "PATH": str(Path(sys.executable).parent)},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return int(done.stdout.strip().splitlines()[-1])


def service_constant(module: str, name: str) -> float:
    """A constant of a service's module, read in a process of its own (the services'
    packages are not imported from here: each service stands alone)."""
    done = subprocess.run(
        [sys.executable, "-c", f"import {module} as m; print(m.{name})"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return float(done.stdout.strip().splitlines()[-1])


def iac_graph(environment: str) -> dict[str, dict]:  # type: ignore[type-arg]
    code = (
        "import importlib.util, json, sys\n"
        "spec = importlib.util.spec_from_file_location('iac', sys.argv[1])\n"
        "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)\n"
        "print(json.dumps(m.main().to_graph()))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(ROOT / ".railway" / "railway.py")],
        env={"FOLIO_RAILWAY_ENVIRONMENT": environment, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return {r["name"]: r for r in json.loads(done.stdout)["resources"]}


def test_a_whole_long_poll_fits_gunicorns_graceful_shutdown_and_railways_draining() -> None:
    assert timings.graceful_timeout_s() > timings.LONGEST_LONG_POLL_S
    assert timings.api_draining_s() > timings.graceful_timeout_s()
    # And for any MAX_WAIT_S an operator sets, not only the default.
    for max_wait_s in (5, 60, 300):
        assert timings.graceful_timeout_s(max_wait_s) > max_wait_s
        assert timings.api_draining_s(max_wait_s) > timings.graceful_timeout_s(max_wait_s)


def test_gunicorn_uses_the_derived_graceful_timeout(env: dict[str, str]) -> None:
    assert gunicorn_graceful_timeout(env) == timings.graceful_timeout_s()
    assert gunicorn_graceful_timeout({**env, "MAX_WAIT_S": "120"}) == (
        timings.graceful_timeout_s(120)
    )


def test_the_start_up_wait_fits_the_health_check_and_railways_ceiling() -> None:
    api_wait_s = service_constant("folio_api.cli", "DEFAULT_WAIT_S")
    worker_wait_s = service_constant("folio_worker.cli", "STARTUP_WAIT_S")
    assert api_wait_s == worker_wait_s == timings.DEPENDENCY_WAIT_S
    worst_wait = timings.DEPENDENCIES * api_wait_s  # Postgres, then Redis
    assert worst_wait + timings.BOOT_S <= timings.api_healthcheck_timeout_s()
    assert timings.api_healthcheck_timeout_s() <= timings.RAILWAY_HEALTHCHECK_MAX_S


def test_the_settings_defaults_are_the_timings() -> None:
    settings = Settings.from_env({})
    assert settings.max_wait_s == timings.LONGEST_LONG_POLL_S
    assert settings.worker_shutdown_timeout_s == timings.WORKER_SHUTDOWN_TIMEOUT_S
    assert timings.worker_draining_s() > settings.worker_shutdown_timeout_s


def test_railway_py_deploys_the_derived_timings() -> None:
    for environment in ("staging", "production"):
        graph = iac_graph(environment)
        api, worker = graph["api"], graph["worker"]
        max_wait_s = int(api["variables"]["MAX_WAIT_S"]["value"])
        assert max_wait_s == timings.LONGEST_LONG_POLL_S
        assert api["deploy"]["drainingSeconds"] == timings.api_draining_s(max_wait_s)
        assert api["deploy"]["healthcheckTimeout"] == timings.api_healthcheck_timeout_s()
        assert api["deploy"]["overlapSeconds"] == timings.API_OVERLAP_S
        shutdown_s = int(worker["variables"]["WORKER_SHUTDOWN_TIMEOUT_S"]["value"])
        assert worker["deploy"]["drainingSeconds"] == timings.worker_draining_s(shutdown_s)


def test_timings_imports_nothing_so_the_railway_cli_can_load_it_alone() -> None:
    source = (ROOT / "libs/common/src/folio_common/timings.py").read_text()
    imports = [line for line in source.splitlines() if line.startswith(("import ", "from "))]
    assert imports == ["from __future__ import annotations"]
    assert importlib.import_module("folio_common.timings") is timings
