"""Running transitions: one unit of work, then — only after it committed — its effects.

This is the one place effects run. A unit of work that rolls back (or is retried after a
dropped connection) never gets here, so no message is sent and no waiter woken for a state
that was not committed; an effect that fails (Redis down) is logged and left to the
sweeper, which re-sends whatever a queued or stalled job still needs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

import dramatiq
import redis
import sqlalchemy.exc

from folio_common.broker import job_message, part_message, webhook_message
from folio_common.database import Database
from folio_common.jobs import Job
from folio_common.logs import get_logger
from folio_common.notify import publish_done
from folio_common.settings import Settings

from . import transitions
from .effects import Announce, Effect, EnqueueJob, EnqueuePart, Step

T = TypeVar("T")

log = get_logger("folio.jobs")


@dataclass(frozen=True)
class Lifecycle:
    """Runs job transitions and their after-commit effects.

    Parameters:
      db: where transitions run, each as one unit of work.
      redis: for completion events (long-polls wake up).
      broker: where job, part and webhook messages are sent.
      settings: the service's settings.
    """

    db: Database
    redis: redis.Redis
    broker: dramatiq.Broker
    settings: Settings

    def run(self, work: Callable[..., Step[T]], *args: Any, **kwargs: Any) -> T:
        """``work(conn, *args, **kwargs)`` in one transaction, then its step's effects."""
        step: Step[T] = self.db.transaction(work, *args, **kwargs)
        self.apply(step.effects)
        return step.value

    def run_statement(self, work: Callable[..., Step[T]], *args: Any, **kwargs: Any) -> T:
        """Like :meth:`run`, with ``work`` sending one query string on an autocommit
        connection (:meth:`Database.statement`): one round trip, then its effects."""
        step: Step[T] = self.db.statement(work, *args, **kwargs)
        self.apply(step.effects)
        return step.value

    def apply(self, effects: Iterable[Effect]) -> None:
        """Run committed effects in order; each failure is logged, never raised."""
        for effect in effects:
            match effect:
                case EnqueueJob():
                    self._enqueue_job(effect)
                case EnqueuePart():
                    self._send(
                        part_message(effect.job_id, effect.part_no, effect.request_id),
                        effect.job_id,
                    )
                case Announce():
                    self._announce(effect.job)

    def _send(self, message: dramatiq.Message[None], job_id: str) -> bool:
        try:
            self.broker.enqueue(message)
        except redis.RedisError as exc:
            log.warning(
                "could not send a message; the sweeper sends it later",
                job_id=job_id,
                actor=message.actor_name,
                error=type(exc).__name__,
            )
            return False
        return True

    def _enqueue_job(self, effect: EnqueueJob) -> None:
        if not self._send(job_message(effect.job_id, effect.request_id), effect.job_id):
            if effect.noted:
                self._forget_enqueued(effect.job_id)
            return
        if effect.noted:
            return
        try:
            self.db.transaction(transitions.note_enqueued, effect.job_id)
        except sqlalchemy.exc.SQLAlchemyError as exc:
            # Harmless: the sweeper sends it again later, and a duplicate message is a no-op.
            log.warning(
                "could not note the job enqueued", job_id=effect.job_id, error=type(exc).__name__
            )

    def _forget_enqueued(self, job_id: str) -> None:
        try:
            self.db.transaction(transitions.forget_enqueued, job_id)
        except sqlalchemy.exc.SQLAlchemyError as exc:
            # Still safe: the sweeper re-sends a queued job once REQUEUE_AFTER_S has passed.
            log.warning("could not clear enqueued_at", job_id=job_id, error=type(exc).__name__)

    def _announce(self, job: Job) -> None:
        publish_done(self.redis, self.settings, job)  # first: a client is waiting on it
        duration = (job.finished_at - job.created_at).total_seconds() if job.finished_at else None
        log.info(
            "job finished",
            job_id=job.id,
            status=job.status.value,
            error_code=job.error_code,
            pages=job.pages_done,
            attempts=job.attempts,
            duration_s=duration,
        )
        if job.callback_url:
            self._send(webhook_message(job.id, job.request_id), job.id)
