"""The WSGI entry point gunicorn imports, in each worker process after the fork.

Nothing here runs in the gunicorn master (there is no ``--preload``), so every worker
builds its own engine pool and Redis connections: no socket is ever shared across a fork.
"""

from __future__ import annotations

import logging

import falcon
from folio_common.blobs import PostgresBlobStore
from folio_common.broker import create_broker
from folio_common.database import Database
from folio_common.logs import configure_logging, register_secrets
from folio_common.redis_client import create_redis
from folio_common.settings import Settings, load_settings

from folio_api.app import create_app
from folio_api.metrics import InstrumentedQueuePool


def build_app(settings: Settings) -> falcon.App[falcon.Request, falcon.Response]:
    """The app with real dependencies, built from ``settings``."""
    configure_logging("api", settings.log_level, settings.log_format)
    # The access line comes from RequestContext (with route and request id); gunicorn's
    # own would duplicate it. (configure_logging re-applied the shared levels.)
    logging.getLogger("gunicorn.access").setLevel(logging.WARNING)
    register_secrets(settings.secrets())
    # The instrumented pool times checkouts and keeps the pool gauges of /metrics current.
    db = Database.from_settings(
        settings, application_name="folio-api", poolclass=InstrumentedQueuePool
    )
    client = create_redis(settings)
    return create_app(settings, db, client, create_broker(settings, client), PostgresBlobStore())


app = build_app(load_settings())
