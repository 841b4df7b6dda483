"""The worker takes no job while the live schema is behind the code it runs.

A release's pre-deploy migrates before its processes start, but a worker can still meet
an older schema: a failed or skipped pre-deploy, a rollback under a running worker, a
deploy by hand. Its jobs would then fail on a missing column with an error not treated as
transient. :class:`SchemaGuard` checks the schema with the rule ``folio-migrate verify``
uses (:func:`folio_common.migrate.schema_problems`) and, while it fails:

- holds every worker thread before its first message, and pauses running threads
  after their current one (messages stay in Redis or are requeued at shutdown); the
  process's sweeper skips its sweeps (:meth:`SchemaGuard.is_open`);
- logs why every :data:`WAITING_CHECK_S` seconds;
- puts the problems in the worker's published stats (its heartbeat), which
  ``folio-worker healthcheck`` reads to exit 1 saying why.

It re-checks every :data:`WAITING_CHECK_S` seconds, so work starts within seconds of the
migration landing, and every :data:`VERIFIED_CHECK_S` seconds once verified.
"""

from __future__ import annotations

import threading
from typing import Any

import dramatiq
import redis
from folio_common import worker_reports
from folio_common.logs import get_logger, redact_text
from folio_common.migrate import migrations_dir, schema_problems
from folio_common.settings import Settings

from .middleware import BackgroundThread
from .runtime import current_runtime

log = get_logger("folio.worker.schema")

#: Seconds between checks (and log lines) while the schema is behind.
WAITING_CHECK_S = 5.0
#: Seconds between checks once the schema is verified.
VERIFIED_CHECK_S = 60.0
#: Seconds a held worker thread sleeps between looks at the gate and at its stop flag.
HOLD_TICK_S = 0.5


class SchemaGuard(BackgroundThread):
    """Open the worker's threads to messages only while the schema verifies. It uses the
    process's runtime (its database and counters), built before the worker boots; its
    thread re-checks while the worker runs."""

    thread_name = "folio-schema"

    def __init__(self) -> None:
        super().__init__()
        self._open = threading.Event()
        self._worker: dramatiq.Worker | None = None

    def is_open(self) -> bool:
        """True while the schema verifies (the worker takes jobs and sweeps)."""
        return self._open.is_set()

    def check(self) -> list[str]:
        """The schema's problems now; a failed check is a problem too (nothing verified)."""
        try:
            with current_runtime().db.engine.connect() as conn:
                return schema_problems(conn, migrations_dir())
        except Exception as exc:
            first = (str(exc).strip().splitlines() or [""])[0]
            return [redact_text(f"schema check failed: {type(exc).__name__}: {first}")]

    def before_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        # Decided before any worker thread exists, so none takes a message first.
        self._worker = worker
        self._stop.clear()
        self._apply(self.check())

    def after_worker_thread_boot(self, broker: dramatiq.Broker, thread: Any) -> None:
        """Hold a new worker thread until the schema verifies (or the worker stops)."""
        while not self._open.wait(HOLD_TICK_S):
            if not thread.running or self._stop.is_set():
                return

    def run(self, stop: threading.Event) -> None:
        while not stop.wait(VERIFIED_CHECK_S if self._open.is_set() else WAITING_CHECK_S):
            self._apply(self.check())

    def _apply(self, problems: list[str]) -> None:
        rt = current_runtime()
        rt.stats.set_schema_problems(problems)
        threads = self._worker.workers if self._worker is not None else []
        if problems:
            if self._open.is_set():
                self._open.clear()
                for thread in threads:
                    thread.pause()  # after the message in hand, none more
            log.warning(
                "waiting for the schema: taking no job until `folio-migrate apply` lands",
                worker_id=rt.worker_id,
                problems=problems,
                retry_in_s=WAITING_CHECK_S,
            )
        elif not self._open.is_set():
            self._open.set()
            for thread in threads:
                thread.resume()
            log.info("schema verified: taking jobs", worker_id=rt.worker_id)


def waiting(client: redis.Redis, settings: Settings, prefix: str = "") -> dict[str, list[str]]:
    """{worker id: schema problems} of the live workers (under ``prefix``) held by a guard."""
    found: dict[str, list[str]] = {}
    for worker_id, report in worker_reports.read(client, settings).items():
        if worker_id.startswith(prefix) and report.schema_problems:
            found[worker_id] = list(report.schema_problems)
    return found
