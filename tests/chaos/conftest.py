"""The chaos suite's fixtures: a private PostgreSQL (with a password) for the session, a
private Redis (with ``requirepass``) and a fresh database per scenario, and the report.

Run with ``make chaos`` (which also writes ``docs/reliability/chaos-report.json``), or
``pytest tests/chaos``; ``CHAOS_REPORT=path`` names the report file to update.
"""

from __future__ import annotations

import json
import os
import platform
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from folio_common.migrate import apply
from folio_common.settings import Settings

from testsupport import cluster as chaos
from testsupport.cluster import Cluster, Load, Postgres, RedisServer, Secrets, WebhookReceiver

#: What every scenario runs with: short timings so recovery happens within seconds.
CHAOS_ENV = {
    "LOG_LEVEL": "info",
    "WORKER_PROCESSES": "1",
    "WORKER_THREADS": "3",
    "WORKER_SHUTDOWN_TIMEOUT_S": "10",
    "WEB_CONCURRENCY": "2",
    "WEB_THREADS": "8",
    "PART_PAGES": "10",
    "JOB_TIME_LIMIT_S": "30",
    "SWEEP_INTERVAL_S": "1",
    "STUCK_AFTER_S": "5",
    "REQUEUE_AFTER_S": "5",
    "HEARTBEAT_INTERVAL_S": "1",
    "BROKER_HEARTBEAT_TIMEOUT_S": "5",
    "DB_POOL_TIMEOUT": "2",
    "WEBHOOK_ALLOW_PRIVATE": "true",
    "WEBHOOK_MAX_ATTEMPTS": "2",
}


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


class Scenario:
    """One scenario's Folio: its database, Redis, processes, load and checks."""

    def __init__(
        self,
        name: str,
        pg: Postgres,
        secrets: Secrets,
        receiver: WebhookReceiver,
        log_dir: Path,
        report: dict[str, Any],
    ) -> None:
        self.name = name
        self.pg = pg
        self.secrets = secrets
        self.log_dir = log_dir
        self.report = report
        self.database = f"folio_{name}_{uuid.uuid4().hex[:6]}"
        self.database_url = pg.create_database(self.database)
        apply(Settings.from_env({"DATABASE_URL": self.database_url}))
        self.redis = RedisServer(secrets.redis_password, log_dir)
        self.docs = chaos.mixed_docs(secrets.pdf_password, receiver.url)
        self.cluster: Cluster | None = None

    def env(self, **overrides: str) -> dict[str, str]:
        return {
            **CHAOS_ENV,
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis.url(),
            "REDIS_NAMESPACE": f"chaos-{self.name}",
            "API_KEYS": f"chaos:{self.secrets.api_key},other:{self.secrets.other_key}",
            "WEBHOOK_SECRET": self.secrets.webhook_secret,
            **overrides,
        }

    def start(self, **overrides: str) -> tuple[Cluster, Load]:
        self.cluster = Cluster(self.env(**overrides), self.log_dir)
        return self.cluster, Load(self.cluster.base, self.secrets.api_key, self.docs)

    def finish(
        self,
        load: Load,
        *,
        timeout: float = 150.0,
        started: float,
        allowed_failures: tuple[str, ...] = (),
    ) -> chaos.Verdict:
        """Wait for every accepted job, record the figures, and check the invariants."""
        import time

        result = chaos.verdict(load, self.database_url, timeout)
        result.wall_s = time.monotonic() - started
        assert self.cluster is not None
        alive = self.cluster.alive()
        self.cluster.stop()
        self.redis.stop()
        self.report[self.name] = result.report()
        print(f"\n{self.name}: {json.dumps(result.report())}")
        leaks = chaos.leaked_secrets(self.log_dir, self.secrets.values())
        assert alive, "the API or a worker died"
        assert result.lost == 0, result
        assert result.duplicated == 0 and result.wrong_pages == 0, result
        assert result.http_500 == 0, result
        assert result.unaccepted == 0, result
        assert set(result.failures) <= set(allowed_failures), result.failures
        assert not leaks, leaks
        return result


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
