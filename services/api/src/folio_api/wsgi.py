"""The WSGI entry point gunicorn imports, in each worker process after the fork.

Nothing here runs in the gunicorn master (there is no ``--preload``), so every worker
builds its own engine pool and Redis connections: no socket is ever shared across a fork.
Building them opens none: the first request (or health probe) does.
"""

from __future__ import annotations

import falcon
from folio_common.bootstrap import start_process
from folio_common.connections import Connections, Role
from folio_common.settings import Settings

from folio_api.app import create_app
from folio_api.metrics import InstrumentedQueuePool


def build_app(settings: Settings) -> falcon.App[falcon.Request, falcon.Response]:
    """The app with real dependencies, built from ``settings``."""
    # The instrumented pool times checkouts and keeps the pool gauges of /metrics current.
    conns = Connections.for_role(settings, Role.API, poolclass=InstrumentedQueuePool)
    return create_app(settings, conns.db, conns.redis, conns.broker, conns.blobs)


app = build_app(start_process("api"))
