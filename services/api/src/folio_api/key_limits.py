"""Per-key limits: one tenant cannot take more than its share of the API.

Four limits, each a setting (0 turns it off), each answered with 429 ``rate_limited``
problem+json, a ``Retry-After`` and a ``limit`` member naming it:

- ``RATE_LIMIT_PER_MINUTE``: requests per key, a moving window kept in Redis by the
  `limits` library (one ``EVALSHA`` per request), so it holds across processes and
  replicas;
- ``MAX_CONCURRENT_UPLOADS``: uploads in progress per key, a Redis counter taken when a
  ``POST /api/v1/jobs`` starts and given back when it ends;
- ``MAX_JOBS_IN_FLIGHT`` and ``MAX_STORED_MB``: what the key holds in PostgreSQL
  (:func:`folio_common.quotas.usage`), checked before an upload is read. A key far below
  both is checked against a figure read at most seconds ago
  (:class:`folio_common.quotas.UsageCache`), and every refusal against a fresh one.

Redis being unreachable turns the Redis-kept limits off (logged) rather than the API: the
limits protect the service, and refusing everyone would be the outage they exist to prevent.
"""

from __future__ import annotations

import math
import time
from typing import Any

import falcon
import redis
from folio_common import jobs, quotas
from folio_common.database import Database
from folio_common.documents import API_PREFIX
from folio_common.logs import get_logger
from folio_common.redis_client import key
from folio_common.settings import Settings
from limits import RateLimitItemPerMinute
from limits.storage import RedisStorage
from limits.strategies import MovingWindowRateLimiter

from folio_api.errors import RATE_LIMITED, Problem
from folio_api.resources.jobs import idempotency_key

log = get_logger("folio.api.limits")

#: The route whose POST is an upload.
UPLOAD_ROUTE = f"{API_PREFIX}/jobs"
#: A lost release (a process killed mid-upload) expires after this many seconds.
UPLOAD_SLOT_TTL_S = 3600
#: Seconds a client should wait when it has too many jobs in flight or too much stored.
QUOTA_RETRY_AFTER_S = 30
#: Seconds to wait after too many concurrent uploads: one of them should end by then.
UPLOADS_RETRY_AFTER_S = 5


def rate_limited(limit: str, detail: str, retry_after_s: int) -> Problem:
    return Problem(
        falcon.HTTP_429,
        RATE_LIMITED,
        detail,
        headers={"Retry-After": str(max(1, retry_after_s))},
        limit=limit,
    )


class KeyLimits:
    """Middleware, after :class:`folio_api.auth.Authenticator`: enforce the limits of
    ``req.context.owner``. Open resources (no owner) are not limited here.

    Parameters:
      settings: the limits.
      db: for the quotas kept in PostgreSQL.
      client: the Redis client whose connection pool the counters use.
    """

    def __init__(self, settings: Settings, db: Database, client: redis.Redis) -> None:
        self._settings = settings
        self._db = db
        self._client = client
        storage = RedisStorage(
            "redis://",
            connection_pool=client.connection_pool,
            key_prefix=key(settings, "ratelimit"),
        )
        self._limiter = MovingWindowRateLimiter(storage)
        self._rate = RateLimitItemPerMinute(max(1, settings.rate_limit_per_minute))
        self._usage = quotas.UsageCache()

    def process_resource(
        self, req: falcon.Request, resp: falcon.Response, resource: Any, params: dict[str, Any]
    ) -> None:
        owner: str | None = req.context.get("owner")
        if owner is None:
            return
        if self._settings.rate_limit_per_minute:
            self._check_rate(owner)
        if req.method == "POST" and req.uri_template == UPLOAD_ROUTE:
            try:
                self._check_quotas(owner, req.content_length or 0)
            except Problem:
                if not self._is_a_retry(req, owner):
                    raise
            self._take_upload_slot(req, owner)

    def process_response(
        self, req: falcon.Request, resp: falcon.Response, resource: Any, req_succeeded: bool
    ) -> None:
        owner: str | None = req.context.get("owner")
        if owner is not None and resp.status_code == 202 and req.uri_template == UPLOAD_ROUTE:
            self._usage.accepted(owner, req.content_length or 0)
        slot: str | None = req.context.get("upload_slot")
        if slot is not None:
            try:
                self._client.decr(slot)
            except redis.RedisError as exc:  # the slot's TTL gives it back eventually
                log.warning("could not release an upload slot", error=type(exc).__name__)

    def _check_rate(self, owner: str) -> None:
        try:
            allowed = self._limiter.hit(self._rate, owner)
            if allowed:
                return
            reset = self._limiter.get_window_stats(self._rate, owner).reset_time
        except redis.RedisError as exc:
            log.warning("rate limit not applied: Redis unavailable", error=type(exc).__name__)
            return
        raise rate_limited(
            "RATE_LIMIT_PER_MINUTE",
            f"more than {self._settings.rate_limit_per_minute} requests a minute for this key",
            math.ceil(reset - time.time()),
        )

    def _check_quotas(self, owner: str, announced_bytes: int) -> None:
        settings = self._settings
        if not (settings.max_jobs_in_flight or settings.max_stored_mb):
            return
        quota = settings.max_stored_mb * 1024 * 1024
        # A body announced over MAX_UPLOAD_MB is refused with 413 by the upload itself.
        announced_bytes = min(announced_bytes, settings.max_upload_bytes)
        cached = self._usage.recent(owner)
        if cached is not None and quotas.far_below(
            cached, announced_bytes, settings.max_jobs_in_flight, quota
        ):
            return
        used = self._db.transaction(quotas.usage, owner)
        self._usage.store(owner, used)
        if settings.max_jobs_in_flight and used.in_flight >= settings.max_jobs_in_flight:
            raise rate_limited(
                "MAX_JOBS_IN_FLIGHT",
                f"this key has {used.in_flight} jobs queued or processing "
                f"(at most {settings.max_jobs_in_flight}); wait for some to finish",
                QUOTA_RETRY_AFTER_S,
            )
        if settings.max_stored_mb and used.stored_bytes + announced_bytes > quota:
            raise rate_limited(
                "MAX_STORED_MB",
                f"this key stores {used.stored_bytes} bytes of uploads (at most "
                f"{settings.max_stored_mb} MiB); delete jobs or wait for results to expire",
                QUOTA_RETRY_AFTER_S,
            )

    def _is_a_retry(self, req: falcon.Request, owner: str) -> bool:
        """A retried submission (its Idempotency-Key already made a job) creates nothing,
        so it gets its job back rather than a 429."""
        try:
            key_header = idempotency_key(req)
        except Problem:  # a malformed key made no job: the request is refused anyway
            return False
        if key_header is None:
            return False
        return self._db.transaction(jobs.find_by_idempotency_key, owner, key_header) is not None

    def _take_upload_slot(self, req: falcon.Request, owner: str) -> None:
        limit = self._settings.max_concurrent_uploads
        if not limit:
            return
        slot = key(self._settings, "uploads", owner)
        try:
            with self._client.pipeline(transaction=True) as pipe:
                pipe.incr(slot)
                pipe.expire(slot, UPLOAD_SLOT_TTL_S)
                taken = int(pipe.execute()[0])
            if taken > limit:
                self._client.decr(slot)
        except redis.RedisError as exc:
            log.warning("upload limit not applied: Redis unavailable", error=type(exc).__name__)
            return
        if taken > limit:
            raise rate_limited(
                "MAX_CONCURRENT_UPLOADS",
                f"this key already has {limit} uploads in progress",
                UPLOADS_RETRY_AFTER_S,
            )
        req.context.upload_slot = slot
