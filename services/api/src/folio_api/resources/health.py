"""``/api/v1/health`` (dependencies) and ``/api/v1/health/live`` (the process alone).

Railway's health check should use ``/health/live`` for liveness only if restarts on a
database outage are unwanted; ``/health`` answers 503 when Postgres or Redis fails, naming
the check, so a deploy never goes live against a database it cannot reach.
"""

from __future__ import annotations

from typing import Any

import falcon
import redis
from folio_common import worker_reports
from folio_common.database import Database
from folio_common.health import DEFAULT_DEADLINE_S, postgres_probe, redis_probe, run_probes
from folio_common.settings import Settings


class HealthResource:
    """Probe Postgres and Redis concurrently under one deadline; report pool and workers."""

    auth_exempt = True

    def __init__(self, settings: Settings, db: Database, client: redis.Redis) -> None:
        self._settings = settings
        self._db = db
        self._client = client

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        results = run_probes(
            {"postgres": postgres_probe(self._db.engine), "redis": redis_probe(self._client)},
            DEFAULT_DEADLINE_S,
        )
        failing = sorted(name for name, result in results.items() if not result.ok)
        doc: dict[str, Any] = {
            "status": "error" if failing else "ok",
            "checks": {name: result.as_dict() for name, result in results.items()},
            "workers": {"alive": self._alive_workers() if "redis" not in failing else None},
            "pool": self._db.stats().as_dict(),
        }
        if failing:
            doc["failing"] = failing
            resp.status = falcon.HTTP_503
        resp.media = doc

    def _alive_workers(self) -> int | None:
        """Best effort: a Redis hiccup here must not fail the health check."""
        try:
            return len(worker_reports.alive(self._client, self._settings))
        except redis.RedisError:
            return None


class LiveResource:
    """200 while the process serves requests; touches no dependency."""

    auth_exempt = True

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {"status": "ok"}
