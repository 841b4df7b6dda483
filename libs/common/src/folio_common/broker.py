"""The Dramatiq broker, and the messages both services send.

The API enqueues by actor *name* (it never imports the worker); the worker declares
actors with the same names and queues. Queues are separate so the parts of one large
document never starve small jobs: a job's first message has a higher priority than parts.
"""

from __future__ import annotations

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import Middleware

from .doorbell import DoorbellBroker
from .settings import Settings

#: Queue of a job's first message: claim, inspect, extract small documents whole.
JOBS_QUEUE = "jobs"
#: Queue of the page-range parts of large documents.
PARTS_QUEUE = "parts"
#: Queue of webhook deliveries.
WEBHOOKS_QUEUE = "webhooks"

PROCESS_JOB = "process_job"
PROCESS_PART = "process_part"
DELIVER_WEBHOOK = "deliver_webhook"

#: Chance per million broker commands to run Redis maintenance (requeue a dead
#: worker's messages). Dramatiq's default (1,000) can leave them for minutes.
MAINTENANCE_CHANCE = 20_000


def broker_namespace(settings: Settings) -> str:
    """Prefix of Dramatiq's Redis keys: queue ``q`` is the list ``<namespace>:q``."""
    return f"{settings.redis_namespace}-dramatiq"


def create_broker(
    settings: Settings, client: redis.Redis, middleware: list[Middleware] | None = None
) -> RedisBroker:
    """A RedisBroker sharing ``client``'s connection pool (and so its TLS settings), whose
    enqueues ring the queue's doorbell so idle workers wake at once (:mod:`.doorbell`)."""
    return DoorbellBroker(  # type: ignore[no-untyped-call]
        client=client,
        namespace=broker_namespace(settings),
        middleware=middleware,
        heartbeat_timeout=settings.broker_heartbeat_timeout_s * 1000,
        maintenance_chance=MAINTENANCE_CHANCE,
    )


def _message(
    queue: str, actor: str, args: tuple[object, ...], request_id: str | None
) -> dramatiq.Message[None]:
    # The request id rides in the options, so the worker's log lines carry it.
    options = {"request_id": request_id} if request_id else {}
    return dramatiq.Message(
        queue_name=queue, actor_name=actor, args=args, kwargs={}, options=options
    )


def job_message(job_id: str, request_id: str | None) -> dramatiq.Message[None]:
    """The message that starts a job (``process_job``)."""
    return _message(JOBS_QUEUE, PROCESS_JOB, (job_id,), request_id)


def part_message(job_id: str, part_no: int, request_id: str | None) -> dramatiq.Message[None]:
    """The message that extracts one part of a large document (``process_part``)."""
    return _message(PARTS_QUEUE, PROCESS_PART, (job_id, part_no), request_id)


def webhook_message(job_id: str, request_id: str | None) -> dramatiq.Message[None]:
    """The message that delivers a finished job's webhook (``deliver_webhook``)."""
    return _message(WEBHOOKS_QUEUE, DELIVER_WEBHOOK, (job_id,), request_id)


def enqueue_job(broker: dramatiq.Broker, job_id: str, request_id: str | None) -> None:
    """Send a job's first message. Raises redis errors when Redis is unreachable."""
    broker.enqueue(job_message(job_id, request_id))
