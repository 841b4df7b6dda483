"""Health probes answer within their deadline whatever the dependencies do, and never raise."""

from __future__ import annotations

import time
from collections.abc import Callable

from folio_common.database import create_engine
from folio_common.health import ProbeResult, postgres_probe, redis_probe, run_probes
from folio_common.redis_client import create_redis
from folio_common.settings import Settings

from testsupport.procs import free_port

DEADLINE_S = 1.5
MARGIN_S = 0.5


def _timed_probes(**probes: Callable[[], None]) -> tuple[dict[str, ProbeResult], float]:
    started = time.monotonic()
    results = run_probes(probes, deadline_s=DEADLINE_S)
    return dict(results), time.monotonic() - started


def test_probes_pass_against_live_dependencies(settings: Settings) -> None:
    engine = create_engine(settings, application_name="folio-test-health")
    client = create_redis(settings)
    try:
        results = run_probes(
            {"postgres": postgres_probe(engine), "redis": redis_probe(client)},
            deadline_s=DEADLINE_S,
        )
    finally:
        engine.dispose()
        client.close()
    assert {name: r.ok for name, r in results.items()} == {"postgres": True, "redis": True}
    assert results["redis"].as_dict()["status"] == "ok"


def test_unreachable_postgres_answers_within_the_deadline(env: dict[str, str]) -> None:
    closed = free_port()
    settings = Settings.from_env(
        {**env, "DATABASE_URL": f"postgresql://folio:pg-pass-9876@127.0.0.1:{closed}/folio"}
    )
    engine = create_engine(settings, application_name="folio-test-health")
    try:
        results, elapsed = _timed_probes(postgres=postgres_probe(engine))
    finally:
        engine.dispose()
    result = results["postgres"]
    assert elapsed < DEADLINE_S + MARGIN_S
    assert not result.ok
    assert result.reason.startswith("OperationalError")
    assert "pg-pass-9876" not in result.reason
    assert result.as_dict()["status"] == "error"


def test_unreachable_redis_answers_within_the_deadline(env: dict[str, str]) -> None:
    closed = free_port()
    settings = Settings.from_env({**env, "REDIS_URL": f"redis://127.0.0.1:{closed}/0"})
    client = create_redis(settings)
    try:
        results, elapsed = _timed_probes(redis=redis_probe(client))
    finally:
        client.close()
    assert elapsed < DEADLINE_S + MARGIN_S
    assert not results["redis"].ok
    assert "ConnectionError" in results["redis"].reason


def test_hung_probe_is_reported_timed_out_at_the_deadline(settings: Settings) -> None:
    client = create_redis(settings)

    def hang() -> None:
        time.sleep(DEADLINE_S + 2)

    try:
        results, elapsed = _timed_probes(hung=hang, redis=redis_probe(client))
    finally:
        client.close()
    assert elapsed < DEADLINE_S + MARGIN_S
    assert not results["hung"].ok
    assert results["hung"].reason == f"timed out after {DEADLINE_S:g}s"
    assert results["redis"].ok


def test_a_raising_probe_becomes_a_redacted_result() -> None:
    def boom() -> None:
        raise RuntimeError("cannot reach postgresql://folio:very-secret-pw@db:5432/x\nmore")

    results, _ = _timed_probes(boom=boom)
    reason = results["boom"].reason
    assert reason.startswith("RuntimeError: cannot reach")
    assert "very-secret-pw" not in reason
    assert "\n" not in reason


def test_no_probes_is_an_empty_answer() -> None:
    assert run_probes({}, deadline_s=DEADLINE_S) == {}
