"""The chaos suite's fixtures: a private PostgreSQL (with a password) for the session, a
private Redis (with ``requirepass``) and a fresh database per scenario, and the report.

Run with ``make chaos`` (which also writes ``docs/reliability/chaos-report.json``), or
``pytest tests/chaos``; ``CHAOS_REPORT=path`` names the report file to update.
"""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from testsupport import cluster as chaos
from testsupport.cluster import CHAOS_ENV, Postgres, Scenario, Secrets, WebhookReceiver


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    reason = chaos.available()
    for item in items:
        if "tests/chaos" in str(item.fspath):
            item.add_marker(pytest.mark.slow)
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def chaos_secrets() -> Secrets:
    return Secrets()


@pytest.fixture(scope="session")
def pg(chaos_secrets: Secrets) -> Iterator[Postgres]:
    server = Postgres(chaos_secrets.pg_password)
    yield server
    server.close()


@pytest.fixture(scope="session")
def receiver() -> Iterator[WebhookReceiver]:
    server = WebhookReceiver()
    yield server
    server.close()


@pytest.fixture(scope="session")
def report() -> Iterator[dict[str, Any]]:
    """Scenario name → figures; merged into ``$CHAOS_REPORT`` at the end of the session."""
    figures: dict[str, Any] = {}
    yield figures
    target = os.environ.get("CHAOS_REPORT")
    if not target or not figures:
        return
    path = Path(target)
    existing = json.loads(path.read_text()) if path.exists() else {}
    scenarios = {**existing.get("scenarios", {}), **figures}
    document = {
        "scenarios": dict(sorted(scenarios.items())),
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}",
        "settings": CHAOS_ENV,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n")


@pytest.fixture
def scenario(
    request: pytest.FixtureRequest,
    pg: Postgres,
    chaos_secrets: Secrets,
    receiver: WebhookReceiver,
    tmp_path: Path,
    report: dict[str, Any],
) -> Iterator[Callable[[], Scenario]]:
    name = request.node.name.removeprefix("test_")
    made: list[Scenario] = []

    def make() -> Scenario:
        made.append(Scenario(name, pg, chaos_secrets, receiver, tmp_path, report))
        return made[-1]

    yield make
    for s in made:
        if s.cluster is not None and s.cluster.api.proc.poll() is None:
            s.cluster.stop()
        s.redis.stop()
