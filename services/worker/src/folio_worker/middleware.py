"""Dramatiq middleware: log context per message, and the life of a worker process.

Each overrides only the hooks it needs, as Dramatiq's own middleware do:

- :class:`LogContext` binds a message's ids into every log line while it runs.
- :class:`Heartbeat` beats in Redis and publishes the process's report while it runs.
- :class:`Sweeping` runs the sweeper thread while the process runs.
- :class:`WorkerProcess` builds the process's runtime when it boots, warms its sandboxes,
  and closes them when it stops.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from typing import Any

import dramatiq
import redis
from dramatiq.broker import MessageProxy
from dramatiq.middleware import Middleware
from folio_common import worker_reports
from folio_common.logs import bind_contextvars, clear_contextvars, get_logger
from folio_common.settings import Settings
from folio_common.sweeper import run_sweeper

from . import ocr
from .runtime import build_runtime, current_runtime, install_runtime

log = get_logger("folio.worker")

#: Seconds between liveness beats in Redis (well inside worker_reports.ALIVE_WINDOW_S).
BEAT_INTERVAL_S = 10.0
#: Seconds between checks for new stats to publish (a finished job shows within this).
STATS_TICK_S = 1.0


class LogContext(Middleware):
    """Bind ``job_id``, ``request_id`` and the actor into every log line of a message."""

    def before_process_message(self, broker: dramatiq.Broker, message: MessageProxy) -> None:
        clear_contextvars()
        bind_contextvars(
            job_id=message.args[0] if message.args else None,
            request_id=message.options.get("request_id"),
            actor=message.actor_name,
            message_id=message.message_id,
            retries=message.options.get("retries", 0),
        )

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: MessageProxy,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        clear_contextvars()

    def after_skip_message(self, broker: dramatiq.Broker, message: MessageProxy) -> None:
        clear_contextvars()


class BackgroundThread(Middleware):
    """A daemon thread started after the worker boots and stopped before it shuts down;
    subclasses give its loop (:meth:`run`, which returns once ``stop`` is set)."""

    #: The thread's name (shows in ``py-spy`` and thread dumps).
    thread_name = "folio"

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run(self, stop: threading.Event) -> None:
        raise NotImplementedError

    def after_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        self._stop.clear()
        self._thread = threading.Thread(
            target=self.run, args=(self._stop,), name=self.thread_name, daemon=True
        )
        self._thread.start()

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        self._stop.set()

    def after_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        if self._thread is not None:
            self._thread.join(5)


class Heartbeat(BackgroundThread):
    """Beat in Redis with this process's report while it runs; forget both when it stops."""

    thread_name = "folio-heartbeat"

    def run(self, stop: threading.Event) -> None:
        """Beat every BEAT_INTERVAL_S, and at once after a part or job finished, so the
        metrics follow the work within a second."""
        rt = current_runtime()
        last = float("-inf")
        while not stop.is_set():
            if rt.stats.take_changed() or time.monotonic() - last >= BEAT_INTERVAL_S:
                last = time.monotonic()
                try:
                    worker_reports.publish(rt.redis, rt.settings, rt.worker_id, rt.stats.report())
                except redis.RedisError as exc:
                    log.warning("liveness beat failed", error=type(exc).__name__)
            stop.wait(STATS_TICK_S)

    def after_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        super().after_worker_shutdown(broker, worker)
        rt = current_runtime()
        with contextlib.suppress(redis.RedisError):
            worker_reports.forget(rt.redis, rt.settings, rt.worker_id)


class Sweeping(BackgroundThread):
    """Run the sweeper (one sweep at a time fleet-wide) while the process runs, and
    ``ready()`` says so (the schema guard: no sweep against a schema behind the code).

    Parameters:
      ready: whether sweeping may run now.
    """

    thread_name = "folio-sweeper"

    def __init__(self, ready: Callable[[], bool] = lambda: True) -> None:
        super().__init__()
        self.ready = ready

    def run(self, stop: threading.Event) -> None:
        run_sweeper(current_runtime().sweeper(), stop, self.ready)


class WorkerProcess(Middleware):
    """The runtime of a worker process: built when it boots, its sandboxes warmed once the
    worker threads run, and closed last when it stops, so no sandbox outlives its worker.

    Parameters:
      settings: the process's settings (from :mod:`folio_worker.boot`).
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def after_process_boot(self, broker: dramatiq.Broker) -> None:
        install_runtime(build_runtime(self.settings, broker))  # type: ignore[arg-type]

    def after_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        rt = current_runtime()
        rt.sandboxes.warm(rt.settings.worker_threads)
        queues = sorted(broker.get_declared_queues())
        log.info("worker ready", worker_id=rt.worker_id, queues=queues)
        missing = set(rt.settings.ocr_languages.split("+")) - ocr.installed_languages()
        if missing:  # the API accepts these languages: their pages would not be read
            log.error(
                "OCR languages not installed", missing=sorted(missing), tessdata=ocr.tessdata_dir()
            )

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        log.info("worker stopping: finishing running parts", worker_id=current_runtime().worker_id)

    def after_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        rt = current_runtime()
        rt.sandboxes.close()
        rt.sources.close()  # the cached source PDFs of split jobs
        log.info("worker stopped", worker_id=rt.worker_id)
