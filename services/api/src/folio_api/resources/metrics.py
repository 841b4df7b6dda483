"""``/api/v1/metrics`` (Prometheus) and ``/api/v1/stats`` (the same fleet figures as JSON).

Fleet-wide figures (every tenant's jobs, queues, workers, the HTTP and pool metrics) are
for operators: ``METRICS_TOKEN`` (a scraper's token that is no tenant's key) or a key
whose name is in ``OPERATOR_KEYS``. Any other API key sees its own jobs' figures only:
a tenant must not learn how busy other tenants are or how their jobs fail. The stats
document, for the status page and scripts, needs an API key like every other data route.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Iterator
from dataclasses import asdict
from typing import Any

import falcon
import redis
import sqlalchemy.exc
from folio_common import fleet, tenant_figures, worker_reports
from folio_common.database import Database
from folio_common.settings import Settings
from prometheus_client import generate_latest
from prometheus_client.metrics_core import Metric

from folio_api import metrics
from folio_api.auth import owner_for
from folio_api.errors import UNAUTHORIZED, Problem

#: The scope of an operator's credentials: every tenant's figures.
FLEET = "\x00fleet"  # no owner name can contain NUL


def tenant_exposition(settings: Settings, db: Database, owner: str) -> bytes:
    """The job figures of ``owner``'s jobs only, in the fleet metrics' names."""
    figures = db.transaction(tenant_figures.owner_job_figures, owner, settings.stuck_after_s)
    return generate_latest(_Families(metrics.FleetCollector._job_metrics(figures)))


class _Families:
    """Metric families already made, as the collector ``generate_latest`` reads."""

    def __init__(self, families: Iterable[Metric]) -> None:
        self._families = list(families)

    def collect(self) -> Iterator[Metric]:
        return iter(self._families)


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

    def _scope(self, req: falcon.Request) -> str | None:
        """:data:`FLEET`, the owner of the key presented, or None (refused)."""
        scheme, _, token = (req.get_header("Authorization") or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return None
        metrics_token = self._settings.metrics_token
        if metrics_token and hmac.compare_digest(token.encode(), metrics_token.encode()):
            return FLEET
        owner = owner_for(self._keys, token)
        return FLEET if owner in self._settings.operator_keys else owner

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        scope = self._scope(req)
        if scope is None:
            raise Problem(
                falcon.HTTP_401,
                UNAUTHORIZED,
                "send an API key or METRICS_TOKEN as 'Authorization: Bearer <token>'",
                headers={"WWW-Authenticate": 'Bearer realm="folio"'},
            )
        resp.content_type = metrics.CONTENT_TYPE
        if scope == FLEET:
            resp.data = metrics.render(self._settings, self._db, self._client)
        else:
            resp.data = tenant_exposition(self._settings, self._db, scope)


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
        owner: str = req.context.owner
        if owner not in self._settings.operator_keys:
            # A tenant sees its own jobs; queues and workers are shared, so left null.
            figures = self._db.transaction(
                tenant_figures.owner_job_figures, owner, self._settings.stuck_after_s
            )
            resp.media = {
                "jobs": figures.by_status,
                "failures": figures.failures_by_code,
                "stuck": figures.stuck,
                "oldest_queued_s": figures.oldest_queued_s,
                "queues": None,
                "workers": {"alive": None, "pages_per_s": None},
            }
            return
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
