"""The application factory: routes, middleware and error handling in one visible place."""

from __future__ import annotations

from typing import Any

import dramatiq
import falcon
import redis
from folio_common.blobs import BlobStore
from folio_common.database import Database
from folio_common.documents import API_PREFIX
from folio_common.lifecycle.runner import Lifecycle
from folio_common.settings import Settings
from folio_common.uow import RetryPolicy

from folio_api import errors
from folio_api.auth import Authenticator
from folio_api.key_limits import KeyLimits
from folio_api.longpoll import JobWaiter
from folio_api.metrics import HttpMetrics
from folio_api.middleware import RequestContext
from folio_api.resources.docs import DocsResource, OpenAPIResource
from folio_api.resources.health import HealthResource, LiveResource
from folio_api.resources.jobs import JobResource, JobsResource
from folio_api.resources.metrics import MetricsResource, StatsResource
from folio_api.resources.results import PageResource, ResultResource
from folio_api.resources.status import StatusPageResource
from folio_api.uploads import multipart_handler

#: Tries of a request's unit of work: one retry at most, so a request fails fast with a
#: 503 instead of spending the worker-side budget (20 s) retrying while the client waits.
REQUEST_MAX_TRIES = 2


def request_database(db: Database, settings: Settings) -> Database:
    """``db``'s engines with the request retry policy (the pools are shared)."""
    policy = RetryPolicy(max_tries=REQUEST_MAX_TRIES, max_time_s=settings.db_pool_timeout)
    return db.with_policy(policy)


def create_app(
    settings: Settings,
    db: Database,
    client: redis.Redis,
    broker: dramatiq.Broker,
    blobs: BlobStore,
) -> falcon.App[falcon.Request, falcon.Response]:
    """The Falcon app serving ``/api/v1``.

    Parameters:
      settings: the process settings.
      db: the process's database (its engine and pool are shared by every request).
      client: Redis client for health probes, completion events and worker liveness.
      broker: where job messages are enqueued (Dramatiq over ``client``).
      blobs: where uploads are stored.
    """
    authenticator = Authenticator(settings)
    requests_db = request_database(db, settings)
    limits = KeyLimits(settings, requests_db, client)
    middleware: list[Any] = [HttpMetrics(), RequestContext(), authenticator, limits]
    app = falcon.App(middleware=middleware)
    app.req_options.media_handlers[falcon.MEDIA_MULTIPART] = multipart_handler()
    app.req_options.strip_url_path_trailing_slash = True
    errors.install(app)

    waiter = JobWaiter(requests_db, client, settings)
    job_route = f"{API_PREFIX}/jobs/{{job_id:uuid}}"
    lifecycle = Lifecycle(requests_db, client, broker, settings)
    app.add_route(f"{API_PREFIX}/jobs", JobsResource(settings, lifecycle, blobs, waiter))
    app.add_route(job_route, JobResource(settings, lifecycle, blobs, waiter))
    app.add_route(f"{job_route}/result", ResultResource(requests_db))
    app.add_route(f"{job_route}/pages/{{number:int(min=1)}}", PageResource(requests_db))
    app.add_route(f"{API_PREFIX}/health", HealthResource(settings, db, client))
    app.add_route(f"{API_PREFIX}/health/live", LiveResource())
    app.add_route(f"{API_PREFIX}/openapi.json", OpenAPIResource())
    app.add_route(f"{API_PREFIX}/docs", DocsResource())
    app.add_route(
        f"{API_PREFIX}/metrics", MetricsResource(settings, requests_db, client, authenticator.keys)
    )
    app.add_route(f"{API_PREFIX}/stats", StatsResource(settings, requests_db, client))
    app.add_route("/", StatusPageResource())
    return app
