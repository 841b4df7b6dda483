"""``/api/v1/metrics`` (Prometheus) and ``/api/v1/stats`` (the same fleet figures as JSON).

The metrics are open to any API key, or to ``METRICS_TOKEN`` — a token for the
scraper, so Prometheus needs no tenant's key. The stats document, for the status page and
scripts, needs an API key like every other data route.
"""

from __future__ import annotations

import hmac
from dataclasses import asdict
from typing import Any

import falcon
import redis
import sqlalchemy.exc
from folio_common import fleet, worker_reports
from folio_common.database import Database
from folio_common.settings import Settings

from folio_api import metrics
from folio_api.auth import owner_for
from folio_api.errors import UNAUTHORIZED, Problem


class MetricsResource:
    """The Prometheus text exposition (checks its own credentials, see the module doc)."""

    auth_exempt = True

    def __init__(
        self, settings: Settings, db: Database, client: redis.Redis, keys: dict[str, str]
    ) -> None:
        self._settings = settings
        self._db = db
        self._client = client
        self._keys = keys

    def _allowed(self, req: falcon.Request) -> bool:
        scheme, _, token = (req.get_header("Authorization") or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return False
        metrics_token = self._settings.metrics_token
        by_token = bool(metrics_token) and hmac.compare_digest(
            token.encode(), metrics_token.encode()
        )
        return owner_for(self._keys, token) is not None or by_token

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        if not self._allowed(req):
            raise Problem(
                falcon.HTTP_401,
                UNAUTHORIZED,
                "send an API key or METRICS_TOKEN as 'Authorization: Bearer <token>'",
                headers={"WWW-Authenticate": 'Bearer realm="folio"'},
            )
        resp.content_type = metrics.CONTENT_TYPE
        resp.data = metrics.render(self._settings, self._db, self._client)


class StatsResource:
    """Jobs per status, failures, stuck jobs, queue depths and workers, as JSON.

    A source that does not answer leaves its members ``null`` rather than failing the
    whole document: the status page shows what it can.
    """

    def __init__(self, settings: Settings, db: Database, client: redis.Redis) -> None:
        self._settings = settings
        self._db = db
        self._client = client

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        doc: dict[str, Any] = {
            "jobs": None,
            "failures": None,
            "stuck": None,
            "oldest_queued_s": None,
            "queues": None,
            "workers": {"alive": None, "pages_per_s": None},
        }
        try:
            figures = self._db.transaction(fleet.job_figures, self._settings.stuck_after_s)
        except sqlalchemy.exc.SQLAlchemyError:
            pass
        else:
            doc.update(
                jobs=figures.by_status,
                failures=figures.failures_by_code,
                stuck=figures.stuck,
                oldest_queued_s=figures.oldest_queued_s,
            )
        try:
            depths = fleet.queue_depths(self._client, self._settings)
            alive = worker_reports.alive(self._client, self._settings)
            reports = worker_reports.read(self._client, self._settings)
        except redis.RedisError:
            pass
        else:
            doc["queues"] = {name: asdict(depth) for name, depth in depths.items()}
            doc["workers"] = {
                "alive": len(alive),
                "pages_per_s": round(sum(r.pages_per_s for r in reports.values()), 3),
            }
        resp.media = doc
