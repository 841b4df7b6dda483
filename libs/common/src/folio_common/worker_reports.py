"""What each worker process reports about itself in Redis: that it is alive, and its figures.

Two keys per Redis namespace:

- ``<ns>:workers``, a sorted set: each worker process (``host:pid``) refreshes its score
  with :func:`beat`. An entry older than :data:`ALIVE_WINDOW_S` belongs to a dead worker.
  The API's health document and ``folio health`` count the live entries;
  ``folio-worker healthcheck`` looks for this host's.
- ``<ns>:worker-stats``, a hash: each worker process's :class:`WorkerReport` (memory,
  pages per second, job durations per engine) as JSON, written with :func:`publish`.
  The API's ``/metrics`` and ``/stats`` read the reports of live workers (:func:`read`).

:class:`WorkerReport` is the one shape of those figures on both sides of the process
boundary: the worker builds one (``folio_worker.counters``), the API reads one.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import redis

from .redis_client import key
from .settings import Settings

#: A worker not seen for this long is counted as dead.
ALIVE_WINDOW_S = 30.0


@dataclass(frozen=True)
class JobDurations:
    """A cumulative histogram of the durations of one worker's jobs of one engine and outcome.

    Parameters:
      engine: the extraction engine.
      status: how the jobs ended (``succeeded`` or ``failed``).
      buckets: cumulative counts, one per bound of ``WorkerReport.duration_buckets``, then +Inf.
      sum_s: total seconds.
      count: jobs (equals the last bucket).
    """

    engine: str
    status: str
    buckets: tuple[int, ...]
    sum_s: float
    count: int


@dataclass(frozen=True)
class WorkerReport:
    """One worker process's figures. Counts are cumulative for the life of the process.

    Parameters:
      pid: the worker process.
      at: Unix time the report was made.
      rss_bytes: resident memory of the worker process.
      sandbox_rss_bytes: resident memory of its extraction sandboxes.
      pages_per_s: pages extracted per second over the last minute.
      pages: pages extracted, per engine.
      parts: parts extracted, per engine.
      duration_buckets: upper bounds (seconds) of the job duration histograms.
      jobs: a duration histogram per (engine, status).
      schema_problems: why the schema guard holds the process (empty: it takes jobs).
      ocr_pages: pages read by OCR.
      ocr_seconds: seconds spent rendering and reading them.
      unread_pages: pages that could not be read, per reason.
    """

    pid: int
    at: float
    rss_bytes: int
    sandbox_rss_bytes: int
    pages_per_s: float
    pages: Mapping[str, int] = field(default_factory=dict)
    parts: Mapping[str, int] = field(default_factory=dict)
    duration_buckets: tuple[float, ...] = ()
    jobs: tuple[JobDurations, ...] = ()
    schema_problems: tuple[str, ...] = ()
    ocr_pages: int = 0
    ocr_seconds: float = 0.0
    unread_pages: Mapping[str, int] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str | bytes) -> WorkerReport:
        """Parse a stored report; raises ``ValueError`` (or ``KeyError``/``TypeError``) when
        it is not one."""
        doc: dict[str, Any] = json.loads(raw)
        return cls(
            pid=int(doc["pid"]),
            at=float(doc["at"]),
            rss_bytes=int(doc["rss_bytes"]),
            sandbox_rss_bytes=int(doc["sandbox_rss_bytes"]),
            pages_per_s=float(doc["pages_per_s"]),
            pages={str(k): int(v) for k, v in doc["pages"].items()},
            parts={str(k): int(v) for k, v in doc["parts"].items()},
            duration_buckets=tuple(float(b) for b in doc["duration_buckets"]),
            jobs=tuple(
                JobDurations(
                    engine=str(j["engine"]),
                    status=str(j["status"]),
                    buckets=tuple(int(b) for b in j["buckets"]),
                    sum_s=float(j["sum_s"]),
                    count=int(j["count"]),
                )
                for j in doc["jobs"]
            ),
            schema_problems=tuple(str(p) for p in doc.get("schema_problems", ())),
            # Absent from an older worker's report (a rolling deploy).
            ocr_pages=int(doc.get("ocr_pages", 0)),
            ocr_seconds=float(doc.get("ocr_seconds", 0.0)),
            unread_pages={str(k): int(v) for k, v in doc.get("unread_pages", {}).items()},
        )


def _workers_key(settings: Settings) -> str:
    return key(settings, "workers")


def _reports_key(settings: Settings) -> str:
    return key(settings, "worker-stats")


def publish(client: redis.Redis, settings: Settings, worker_id: str, report: WorkerReport) -> None:
    """Record that ``worker_id`` (``host:pid``) is alive now with ``report``; prune
    long-dead entries and the reports of workers no longer alive. One round trip (a second
    only when there are reports to drop)."""
    now = time.time()
    workers, reports = _workers_key(settings), _reports_key(settings)
    pipe = client.pipeline(transaction=False)
    pipe.zadd(workers, {worker_id: now})
    pipe.zremrangebyscore(workers, "-inf", now - 10 * ALIVE_WINDOW_S)
    pipe.hset(reports, worker_id, report.to_json())
    pipe.zrangebyscore(workers, now - ALIVE_WINDOW_S, "+inf")
    pipe.hkeys(reports)
    *_, live, stored = pipe.execute()
    gone = set(_decoded(stored)) - set(_decoded(live))
    if gone:
        client.hdel(reports, *sorted(gone))


def alive(client: redis.Redis, settings: Settings, prefix: str = "") -> list[str]:
    """Ids of workers seen within the window, optionally only those starting with ``prefix``."""
    members = client.zrangebyscore(_workers_key(settings), time.time() - ALIVE_WINDOW_S, "+inf")
    return [i for i in _decoded(members) if i.startswith(prefix)]


def read(client: redis.Redis, settings: Settings) -> dict[str, WorkerReport]:
    """{worker id: report} of the workers alive now (a report that does not parse is skipped)."""
    live = set(alive(client, settings))
    found: dict[str, WorkerReport] = {}
    for raw_id, raw_report in client.hgetall(_reports_key(settings)).items():
        worker_id = raw_id.decode() if isinstance(raw_id, bytes) else str(raw_id)
        if worker_id in live:
            try:
                found[worker_id] = WorkerReport.from_json(raw_report)
            except (ValueError, KeyError, TypeError, AttributeError):
                continue
    return found


def forget(client: redis.Redis, settings: Settings, worker_id: str) -> None:
    """A worker process stops: remove its liveness entry and its report."""
    pipe = client.pipeline()
    pipe.zrem(_workers_key(settings), worker_id)
    pipe.hdel(_reports_key(settings), worker_id)
    pipe.execute()


def _decoded(values: Any) -> list[str]:
    return [v.decode() if isinstance(v, bytes) else str(v) for v in values]
