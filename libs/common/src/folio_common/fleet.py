"""The fleet at a glance: jobs per status, failures, stuck jobs, queue depths, workers.

Read at once for ``/api/v1/metrics``, ``/api/v1/stats``, the status page and
``folio health``. The database and Redis halves are separate functions, so one being down
still lets the other be reported.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import redis
from sqlalchemy import Connection

from . import jobs
from .broker import JOBS_QUEUE, PARTS_QUEUE, WEBHOOKS_QUEUE, broker_namespace
from .settings import Settings

#: The queues Folio's messages travel on, in the order they are reported.
QUEUES = (JOBS_QUEUE, PARTS_QUEUE, WEBHOOKS_QUEUE)


@dataclass(frozen=True)
class QueueDepth:
    """Messages of one Dramatiq queue.

    Parameters:
      ready: waiting to be taken (the list ``<namespace>:<queue>``).
      delayed: waiting for their retry backoff (``<queue>.DQ``).
      in_flight: taken by a worker (prefetched or running) and not yet acknowledged.
    """

    ready: int
    delayed: int
    in_flight: int


@dataclass(frozen=True)
class JobFigures:
    """What the ``jobs`` table says about the fleet.

    Parameters:
      by_status: jobs per status (every status present, 0 when none).
      failures_by_code: failed jobs per error code.
      stuck: processing jobs whose heartbeat is older than ``STUCK_AFTER_S``.
      oldest_queued_s: seconds the oldest queued job has waited (0: none).
    """

    by_status: dict[str, int]
    failures_by_code: dict[str, int]
    stuck: int
    oldest_queued_s: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def job_figures(conn: Connection, stuck_after_s: float) -> JobFigures:
    return JobFigures(
        by_status=jobs.count_by_status(conn),
        failures_by_code=jobs.failures_by_code(conn),
        stuck=jobs.count_stuck(conn, stuck_after_s),
        oldest_queued_s=round(jobs.oldest_queued_age_s(conn), 3),
    )


def queue_depths(client: redis.Redis, settings: Settings) -> dict[str, QueueDepth]:
    """Each queue's depth, read in one round trip."""
    namespace = broker_namespace(settings)
    pipe = client.pipeline(transaction=False)
    for queue in QUEUES:
        name = f"{namespace}:{queue}"
        pipe.llen(name)
        pipe.llen(f"{name}.DQ")
        pipe.hlen(f"{name}.msgs")
    replies = pipe.execute()
    depths = {}
    for i, queue in enumerate(QUEUES):
        ready, delayed, unacked = (int(n) for n in replies[3 * i : 3 * i + 3])
        depths[queue] = QueueDepth(ready, delayed, max(0, unacked - ready))
    return depths
