"""Worker fixtures: real ``folio-worker run`` processes against the test database and Redis."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from testsupport.procs import Service, start_worker


@pytest.fixture(scope="session")
def worker_env(env: dict[str, str]) -> dict[str, str]:
    return {**env, "PART_PAGES": "10", "JOB_TIME_LIMIT_S": "30"}


@pytest.fixture(scope="module")
def worker(
    worker_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    """One worker with the default test settings, shared by a module's tests."""
    service = start_worker(worker_env, tmp_path_factory.mktemp("worker"))
    yield service
    service.stop()


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Callable[..., Service]]:
    """``workers(env)`` starts a worker of its own; every one started is stopped at the end."""
    started: list[Service] = []

    def start(env: dict[str, str], name: str = "worker") -> Service:
        service = start_worker(env, tmp_path, name=f"{name}-{len(started)}")
        started.append(service)
        return service

    yield start
    for service in started:
        service.stop()
