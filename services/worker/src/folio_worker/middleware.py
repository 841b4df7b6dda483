"""Dramatiq middleware: log context per message, and the worker process's liveness.

Each overrides only the hooks it needs, as Dramatiq's own middleware do.
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import TYPE_CHECKING, Any

import dramatiq
import redis
from dramatiq.broker import MessageProxy
from dramatiq.middleware import Middleware
from folio_common import worker_stats, workers
from folio_common.logs import bind_contextvars, clear_contextvars, get_logger
from folio_common.sweeper import run_sweeper

if TYPE_CHECKING:
    from .runtime import Runtime

log = get_logger("folio.worker")

#: Seconds between liveness beats in Redis (well inside workers.ALIVE_WINDOW_S).
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


class Liveness(Middleware):
    """While the worker process runs: beat in Redis, and run the sweeper thread.

    Both are daemon threads started after the worker boots and stopped before it shuts
    down; the sandboxes are closed last, so no extraction child outlives its worker.
    """

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def after_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        self._stop.clear()
        self._threads = [
            threading.Thread(target=self._beat, name="folio-liveness", daemon=True),
            threading.Thread(
                target=run_sweeper,
                args=(self.runtime.sweeper(), self._stop),
                name="folio-sweeper",
                daemon=True,
            ),
        ]
        for thread in self._threads:
            thread.start()
        self.runtime.sandboxes.warm(self.runtime.settings.worker_threads)
        log.info(
            "worker ready",
            worker_id=self.runtime.worker_id,
            queues=sorted(broker.get_declared_queues()),
        )

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        log.info("worker stopping: finishing running parts", worker_id=self.runtime.worker_id)
        self._stop.set()

    def after_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        for thread in self._threads:
            thread.join(5)
        self.runtime.sandboxes.close()
        with contextlib.suppress(redis.RedisError):
            workers.forget(self.runtime.redis, self.runtime.settings, self.runtime.worker_id)
            worker_stats.forget(self.runtime.redis, self.runtime.settings, self.runtime.worker_id)
        log.info("worker stopped", worker_id=self.runtime.worker_id)

    def _beat(self) -> None:
        """Beat every BEAT_INTERVAL_S with this process's stats, and at once after a
        part or job finished, so the metrics follow the work within a second."""
        rt = self.runtime
        last = float("-inf")
        while not self._stop.is_set():
            if rt.stats.take_changed() or time.monotonic() - last >= BEAT_INTERVAL_S:
                last = time.monotonic()
                try:
                    workers.beat(rt.redis, rt.settings, rt.worker_id)
                    worker_stats.publish(rt.redis, rt.settings, rt.worker_id, rt.stats.snapshot())
                except redis.RedisError as exc:
                    log.warning("liveness beat failed", error=type(exc).__name__)
            self._stop.wait(STATS_TICK_S)
