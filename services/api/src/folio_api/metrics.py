"""Prometheus metrics: what the API measures in-process, and what it reads at scrape time.

Two kinds of figures end up in one ``/api/v1/metrics`` answer:

- **In-process** (:data:`HTTP_REQUESTS`, :data:`HTTP_DURATION`, the pool gauges and the
  pool wait histogram): every gunicorn worker updates its own. Under gunicorn
  ``PROMETHEUS_MULTIPROC_DIR`` is set (see :mod:`folio_api.gunicorn_config`), so
  prometheus-client keeps them in files there and :func:`render` sums counters and
  histograms across the workers; pool gauges come both per process (``pid`` label,
  ``liveall``) and summed over the live ones (``livesum``).
- **Fleet** (:class:`FleetCollector`): jobs per status, failures per error code, stuck
  jobs, queue depths, live workers, and the figures each worker publishes in Redis (RSS,
  pages/s, job durations per engine). Read from Postgres and Redis at each scrape by the
  answering process; ``folio_metrics_source_up`` says whether each source answered.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from typing import Any

import falcon
import redis
import sqlalchemy.exc
from folio_common import fleet, worker_reports
from folio_common.database import Database
from folio_common.logs import get_logger
from folio_common.settings import Settings
from folio_common.worker_reports import WorkerReport
from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from sqlalchemy.pool import ConnectionPoolEntry, QueuePool

log = get_logger("folio.api.metrics")

#: The Prometheus text exposition format, version 0.0.4.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
#: Set by the gunicorn config: where each process keeps its metric files.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
#: Request latency buckets (s); long-polls reach MAX_WAIT_S (60 by default).
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
#: Buckets (s) of the time a request waits for a pooled connection.
POOL_WAIT_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
#: Route label of requests no route matched (keeps the label set bounded).
UNMATCHED = "unmatched"
_CONVERTER = re.compile(r"\{(\w+):[^}]*\}")

HTTP_REQUESTS = Counter(
    "folio_http_requests",
    "HTTP requests answered, by method, route template and status",
    ["method", "route", "status"],
)
HTTP_DURATION = Histogram(
    "folio_http_request_duration_seconds",
    "Time to answer an HTTP request, by method and route template",
    ["method", "route"],
    buckets=HTTP_BUCKETS,
)
POOL_WAIT = Histogram(
    "folio_api_db_pool_wait_seconds",
    "Time requests waited for a pooled database connection (all processes)",
    buckets=POOL_WAIT_BUCKETS,
)
POOL_TIMEOUTS = Counter(
    "folio_api_db_pool_timeouts",
    "Checkouts that gave up after DB_POOL_TIMEOUT (the request answered 503)",
)
_POOL_FIGURES = {
    "size": "connections the pool keeps (DB_POOL_SIZE)",
    "capacity": "most connections the pool may open (DB_POOL_SIZE + DB_MAX_OVERFLOW)",
    "checked_out": "connections in use by requests",
    "overflow": "connections open beyond DB_POOL_SIZE",
}
#: {figure: (gauge summed over live processes, gauge per live process)}.
POOL_GAUGES = {
    name: (
        Gauge(
            f"folio_api_db_pool_{name}",
            f"Database pool: {doc}, summed over this replica's API processes",
            multiprocess_mode="livesum",
        ),
        Gauge(
            f"folio_api_process_db_pool_{name}",
            f"Database pool: {doc}, per API process",
            multiprocess_mode="liveall",
        ),
    )
    for name, doc in _POOL_FIGURES.items()
}


def publish_pool(
    pool: Any, capacity: int | None = None, published: dict[str, int] | None = None
) -> dict[str, int]:
    """Set this process's pool gauges from ``pool`` (a QueuePool); returns the figures.

    With ``published`` (the figures last returned), only the gauges that changed are
    written: each write is a locked write to a memory-mapped file, and a checkout
    changes one figure of four.
    """
    figures = {
        "size": pool.size(),
        "capacity": capacity if capacity is not None else pool.size() + max(0, pool._max_overflow),
        "checked_out": pool.checkedout(),
        "overflow": max(0, pool.overflow()),
    }
    for name, value in figures.items():
        if published is None or published.get(name) != value:
            for gauge in POOL_GAUGES[name]:
                gauge.set(value)
    return figures


class InstrumentedQueuePool(QueuePool):
    """A QueuePool that times each checkout and keeps the pool gauges current.

    Pass it as ``poolclass`` when creating the API's engine. Checkouts and returns are
    where the pool's state changes, so the gauges are exact without polling.
    """

    #: SQLAlchemy names a pool's logger after its class's module; without this, this
    #: subclass would log under ``folio_api.metrics`` at info, escaping the level that
    #: logging sets for ``sqlalchemy.pool``.
    _sqla_logger_namespace = "sqlalchemy.pool.impl.QueuePool"
    #: The figures this pool last published (none yet: the first publish writes all).
    _published: dict[str, int] | None = None

    def _do_get(self) -> ConnectionPoolEntry:
        started = time.perf_counter()
        try:
            entry = super()._do_get()
        except sqlalchemy.exc.TimeoutError:
            POOL_TIMEOUTS.inc()
            raise
        finally:
            POOL_WAIT.observe(time.perf_counter() - started)
        self._published = publish_pool(self, published=self._published)
        return entry

    def _do_return_conn(self, record: ConnectionPoolEntry) -> None:
        super()._do_return_conn(record)
        self._published = publish_pool(self, published=self._published)


def route_label(req: falcon.Request) -> str:
    """The route template without converters: ``/api/v1/jobs/{job_id}``."""
    template = req.uri_template
    return _CONVERTER.sub(r"{\1}", template) if template else UNMATCHED


class HttpMetrics:
    """Middleware: count every answered request and time it, by route template."""

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        req.context.metrics_started = time.perf_counter()

    def process_response(
        self, req: falcon.Request, resp: falcon.Response, resource: Any, req_succeeded: bool
    ) -> None:
        started: float = req.context.get("metrics_started") or time.perf_counter()
        route = route_label(req)
        HTTP_REQUESTS.labels(req.method, route, str(resp.status_code)).inc()
        HTTP_DURATION.labels(req.method, route).observe(time.perf_counter() - started)


class FleetCollector:
    """Figures read from Postgres and Redis at scrape time (a prometheus-client collector).

    Parameters:
      settings: for STUCK_AFTER_S and the Redis namespace.
      db: the API's database (short transactions).
      client: the API's Redis client.
    """

    def __init__(self, settings: Settings, db: Database, client: redis.Redis) -> None:
        self._settings = settings
        self._db = db
        self._client = client

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "folio_metrics_source_up",
            "1 when the source answered during this scrape, 0 when its figures are missing",
            labels=["source"],
        )
        try:
            figures = self._db.transaction(fleet.job_figures, self._settings.stuck_after_s)
        except sqlalchemy.exc.SQLAlchemyError as exc:
            log.warning("metrics: database unavailable", error=type(exc).__name__)
            up.add_metric(["postgres"], 0)
        else:
            up.add_metric(["postgres"], 1)
            yield from self._job_metrics(figures)
        try:
            depths = fleet.queue_depths(self._client, self._settings)
            alive = worker_reports.alive(self._client, self._settings)
            reports = worker_reports.read(self._client, self._settings)
        except redis.RedisError as exc:
            log.warning("metrics: redis unavailable", error=type(exc).__name__)
            up.add_metric(["redis"], 0)
        else:
            up.add_metric(["redis"], 1)
            yield from self._queue_metrics(depths)
            alive_gauge = GaugeMetricFamily(
                "folio_workers_alive", "Worker processes that beat within the last 30 s"
            )
            alive_gauge.add_metric([], len(alive))
            yield alive_gauge
            yield from self._worker_metrics(reports)
        yield up

    @staticmethod
    def _job_metrics(figures: fleet.JobFigures) -> Iterator[Metric]:
        by_status = GaugeMetricFamily(
            "folio_jobs", "Jobs in the database, by status", labels=["status"]
        )
        for status, count in figures.by_status.items():
            by_status.add_metric([status], count)
        failed = GaugeMetricFamily(
            "folio_jobs_failed", "Failed jobs in the database, by error code", labels=["error_code"]
        )
        for code, count in sorted(figures.failures_by_code.items()):
            failed.add_metric([code], count)
        stuck = GaugeMetricFamily(
            "folio_jobs_stuck",
            "Processing jobs whose heartbeat is older than STUCK_AFTER_S (their worker died)",
        )
        stuck.add_metric([], figures.stuck)
        oldest = GaugeMetricFamily(
            "folio_queue_oldest_age_seconds",
            "Seconds the oldest queued job has waited since it was submitted (0: none queued)",
        )
        oldest.add_metric([], figures.oldest_queued_s)
        yield from (by_status, failed, stuck, oldest)

    @staticmethod
    def _queue_metrics(depths: dict[str, fleet.QueueDepth]) -> Iterator[Metric]:
        families = {
            "ready": GaugeMetricFamily(
                "folio_queue_depth", "Messages waiting in a queue for a worker", labels=["queue"]
            ),
            "delayed": GaugeMetricFamily(
                "folio_queue_delayed", "Messages waiting out a retry backoff", labels=["queue"]
            ),
            "in_flight": GaugeMetricFamily(
                "folio_queue_in_flight",
                "Messages taken by workers and not yet acknowledged",
                labels=["queue"],
            ),
        }
        for queue, depth in depths.items():
            for attr, family in families.items():
                family.add_metric([queue], getattr(depth, attr))
        yield from families.values()

    @staticmethod
    def _worker_metrics(reports: dict[str, WorkerReport]) -> Iterator[Metric]:
        rss = GaugeMetricFamily(
            "folio_worker_rss_bytes", "Resident memory of a worker process", labels=["worker"]
        )
        sandbox_rss = GaugeMetricFamily(
            "folio_worker_sandbox_rss_bytes",
            "Resident memory of a worker process's extraction sandboxes",
            labels=["worker"],
        )
        rate = GaugeMetricFamily(
            "folio_worker_pages_per_second",
            "Pages a worker process extracted per second over the last minute",
            labels=["worker"],
        )
        pages = CounterMetricFamily(
            "folio_worker_pages", "Pages extracted", labels=["worker", "engine"]
        )
        parts = CounterMetricFamily(
            "folio_worker_parts", "Parts extracted", labels=["worker", "engine"]
        )
        durations = HistogramMetricFamily(
            "folio_worker_job_duration_seconds",
            "Time from a job's first claim to its end, by engine and outcome",
            labels=["worker", "engine", "status"],
        )
        for worker, report in sorted(reports.items()):
            rss.add_metric([worker], report.rss_bytes)
            sandbox_rss.add_metric([worker], report.sandbox_rss_bytes)
            rate.add_metric([worker], report.pages_per_s)
            for engine, count in report.pages.items():
                pages.add_metric([worker, engine], count)
            for engine, count in report.parts.items():
                parts.add_metric([worker, engine], count)
            bounds = [*(str(float(b)) for b in report.duration_buckets), "+Inf"]
            for job in report.jobs:
                buckets = list(zip(bounds, job.buckets, strict=True))
                durations.add_metric([worker, job.engine, job.status], buckets, job.sum_s)
        yield from (rss, sandbox_rss, rate, pages, parts, durations)
        yield from _ocr_metrics(reports)


def _ocr_metrics(reports: dict[str, WorkerReport]) -> Iterator[Metric]:
    """Pages read by OCR, the seconds it took, and pages not read, by reason."""
    ocr_pages = CounterMetricFamily(
        "folio_worker_ocr_pages", "Pages read by OCR", labels=["worker"]
    )
    ocr_seconds = CounterMetricFamily(
        "folio_worker_ocr_seconds",
        "Seconds spent rendering and reading OCR pages",
        labels=["worker"],
    )
    unread = CounterMetricFamily(
        "folio_worker_pages_unread",
        "Pages that could not be read (over a limit, OCR failed), by reason",
        labels=["worker", "reason"],
    )
    for worker, report in sorted(reports.items()):
        ocr_pages.add_metric([worker], report.ocr_pages)
        ocr_seconds.add_metric([worker], report.ocr_seconds)
        for reason, count in sorted(report.unread_pages.items()):
            unread.add_metric([worker, reason], count)
    yield from (ocr_pages, ocr_seconds, unread)


def render(settings: Settings, db: Database, client: redis.Redis) -> bytes:
    """The whole exposition: this replica's in-process metrics, then the fleet's."""
    publish_pool(db.engine.pool, settings.db_pool_size + settings.db_max_overflow)
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        local = generate_latest(registry)
    else:
        local = generate_latest(REGISTRY)
    return local + generate_latest(FleetCollector(settings, db, client))
