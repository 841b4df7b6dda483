"""Health probes: each dependency checked concurrently, all under one deadline.

A probe never raises and never outlasts the deadline: a dependency that does not answer
in time is reported as ``error`` with the reason ``timed out``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass

import redis
from sqlalchemy import Engine

from .logs import redact_text
from .queries import query

#: Default deadline for all probes together, under Railway's health-check timeout.
DEFAULT_DEADLINE_S = 3.0


@dataclass(frozen=True)
class ProbeResult:
    name: str
    ok: bool
    latency_ms: float
    reason: str = ""

    def as_dict(self) -> dict[str, object]:
        doc: dict[str, object] = {
            "status": "ok" if self.ok else "error",
            "latency_ms": round(self.latency_ms, 1),
        }
        if self.reason:
            doc["reason"] = self.reason
        return doc


def postgres_probe(engine: Engine) -> Callable[[], None]:
    def probe() -> None:
        with engine.connect() as conn:
            conn.execute(query("SELECT 1"))

    return probe


def redis_probe(client: redis.Redis) -> Callable[[], None]:
    def probe() -> None:
        client.ping()

    return probe


def _reason(exc: BaseException) -> str:
    """A short, secret-free reason: the exception type and first line of its message."""
    first_line = (str(exc).strip().splitlines() or [""])[0][:160]
    return redact_text(f"{type(exc).__name__}: {first_line}" if first_line else type(exc).__name__)


def run_probes(
    probes: Mapping[str, Callable[[], None]], deadline_s: float = DEFAULT_DEADLINE_S
) -> dict[str, ProbeResult]:
    """Run every probe at once; return a result per name within ``deadline_s``."""
    started = time.monotonic()
    results: dict[str, ProbeResult] = {}

    def timed(name: str, probe: Callable[[], None]) -> ProbeResult:
        t0 = time.monotonic()
        try:
            probe()
        except Exception as exc:
            return ProbeResult(name, False, (time.monotonic() - t0) * 1000, _reason(exc))
        return ProbeResult(name, True, (time.monotonic() - t0) * 1000)

    executor = ThreadPoolExecutor(max_workers=len(probes) or 1, thread_name_prefix="probe")
    futures = {executor.submit(timed, name, probe): name for name, probe in probes.items()}
    wait(futures, timeout=deadline_s)
    # Never block on a hung probe: its thread finishes on its own socket timeout.
    executor.shutdown(wait=False, cancel_futures=True)
    for future, name in futures.items():
        if future.done() and not future.cancelled():
            results[name] = future.result()
        else:
            elapsed = (time.monotonic() - started) * 1000
            results[name] = ProbeResult(name, False, elapsed, f"timed out after {deadline_s:g}s")
    return results
