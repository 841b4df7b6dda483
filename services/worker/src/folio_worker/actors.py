"""The Dramatiq actors: thin wrappers that hand each message to :mod:`.pipeline`.

Importing :mod:`.boot` first sets the global broker, so these actors bind to Folio's
Redis broker and not to Dramatiq's default. Each message gets the process's runtime from
:func:`.runtime.current_runtime` (built when the process booted, not at import). Queues
and priorities keep small jobs ahead of the parts of large ones: when a worker thread
frees up, a job's first message (priority 0) is taken before any waiting part (priority 10).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import dramatiq
from dramatiq.middleware import CurrentMessage
from folio_common import jobs
from folio_common.broker import (
    DELIVER_WEBHOOK,
    JOBS_QUEUE,
    PARTS_QUEUE,
    PROCESS_JOB,
    PROCESS_PART,
    WEBHOOKS_QUEUE,
)
from folio_common.documents import job_document
from folio_common.lifecycle import transitions
from folio_common.lifecycle.effects import Step
from folio_common.logs import get_logger
from folio_common.uow import RetryPolicy

from . import pipeline, webhooks
from .boot import settings
from .runtime import current_runtime

log = get_logger("folio.worker")

#: Dramatiq's own time limit is only a backstop: the sandbox enforces the real one.
_PART_LIMIT_MS = (settings.job_time_limit_s + 120) * 1000
_JOB_LIMIT_MS = (2 * settings.job_time_limit_s + 120) * 1000


class WebhookFailed(Exception):
    """The receiver did not answer 2xx; Dramatiq retries the delivery with backoff."""


def _noting_errors(
    work: Callable[..., None], job_id: str, *args: Any, release: Callable[..., Step[bool]]
) -> None:
    """Run ``work``; on a transient failure ``release`` what the message had claimed,
    keeping the reason on the job (so its retry can claim it again), then re-raise so
    Dramatiq retries the message with backoff. If the database is what failed, the
    sweeper recovers the job once its heartbeat is stale."""
    rt = current_runtime()
    try:
        work(rt, job_id, *args)
    except Exception as exc:
        reason = f"{type(exc).__name__}: {exc}"
        try:
            rt.db.transaction(release, job_id, *args, reason, policy=RetryPolicy(max_tries=1))
        except Exception:
            log.warning("could not record the error on the job")
        raise


@dramatiq.actor(actor_name=PROCESS_JOB, queue_name=JOBS_QUEUE, priority=0, time_limit=_JOB_LIMIT_MS)
def process_job(job_id: str) -> None:
    _noting_errors(pipeline.process_job, job_id, release=transitions.release)


@dramatiq.actor(
    actor_name=PROCESS_PART, queue_name=PARTS_QUEUE, priority=10, time_limit=_PART_LIMIT_MS
)
def process_part(job_id: str, part_no: int) -> None:
    _noting_errors(pipeline.process_part, job_id, part_no, release=transitions.release_part)


@dramatiq.actor(
    actor_name=DELIVER_WEBHOOK,
    queue_name=WEBHOOKS_QUEUE,
    priority=5,
    max_retries=max(0, settings.webhook_max_attempts - 1),
    min_backoff=2_000,
    max_backoff=300_000,
)
def deliver_webhook(job_id: str) -> None:
    rt = current_runtime()
    message = CurrentMessage.get_current_message()
    attempt = (message.options.get("retries", 0) if message else 0) + 1
    job = rt.db.transaction(jobs.get_job, job_id)
    if job is None or not job.callback_url:
        return
    webhook_id = f"msg_{job_id}"
    try:
        delivery = webhooks.deliver(rt.settings, job.callback_url, webhook_id, job_document(job))
    except webhooks.WebhookRefused as exc:
        log.warning("webhook refused", reason=str(exc))
        rt.db.transaction(
            jobs.record_delivery, job_id, webhook_id=webhook_id, attempt=attempt,
            status_code=None, error=f"refused: {exc}", delivered=False,
        )  # fmt: skip
        return
    rt.db.transaction(
        jobs.record_delivery, job_id, webhook_id=webhook_id, attempt=attempt,
        status_code=delivery.status_code, error=delivery.error, delivered=delivery.ok,
    )  # fmt: skip
    if not delivery.ok:
        raise WebhookFailed(f"webhook attempt {attempt} failed: {delivery.error}")
    log.info("webhook delivered", attempt=attempt, status_code=delivery.status_code)
