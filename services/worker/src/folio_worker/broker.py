"""The module Dramatiq loads first in each worker process: ``dramatiq folio_worker.broker …``.

It validates the settings, configures logging and sets the global broker *before* any
actor module is imported, so no actor can bind to Dramatiq's default broker.
"""

from __future__ import annotations

import dramatiq
from folio_common.logs import configure_logging, install_excepthook, register_secrets
from folio_common.settings import load_settings

from .runtime import build_runtime

settings = load_settings()
configure_logging("worker", settings.log_level, settings.log_format)
install_excepthook()
register_secrets(settings.secrets())
runtime = build_runtime(settings)
broker = runtime.broker
dramatiq.set_broker(broker)
