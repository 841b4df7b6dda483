"""Process start-up: the one call every entry point makes before it does anything else.

:func:`start_process` reads and validates the settings, registers their secrets with the
log redactor, routes every logger through Folio's renderer under the service's name and
logs uncaught exceptions as one JSON line. The API's WSGI module and CLI, the worker's
CLI and Dramatiq module, the sandbox child, ``folio-migrate`` and the ``folio`` CLI all
call it, so no process logs a secret or a bare traceback because it started differently.

It opens no connection and starts no thread: connections come from
:mod:`folio_common.connections`, when the process is ready to use them.
"""

from __future__ import annotations

import sys

from .logs import configure_logging, install_excepthook, register_secrets
from .settings import Settings, load_settings

#: Log level of a command-line tool: its own output is the result, library lines are noise.
QUIET_LEVEL = "warning"


def start_process(
    service: str, settings: Settings | None = None, *, quiet: bool = False
) -> Settings:
    """Settings, logging, redaction and the excepthook of a process; returns the settings.

    Parameters:
      service: the ``service`` member of every log line (``api``, ``worker``, ``cli``, …).
      settings: already loaded ones (a CLI that reports a bad variable its own way);
        by default they are loaded here, and a bad value exits 2 with one JSON line.
      quiet: for command-line tools: warnings only, readable lines, on stderr, so stdout
        carries nothing but the command's result.
    """
    if settings is None:
        settings = load_settings()
    # Secrets first: a line logged while logging is being configured is redacted too.
    register_secrets(settings.secrets())
    if quiet:
        configure_logging(service, QUIET_LEVEL, "console", stream=sys.stderr)
    else:
        configure_logging(service, settings.log_level, settings.log_format)
    install_excepthook()
    return settings
