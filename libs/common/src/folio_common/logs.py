"""Structured logging: one JSON object per line on stdout, for Folio and every stdlib logger.

What happens to a Folio line, in order (``CONTEXT`` then ``_render_processors``): context
variables merged (``request_id``, ``job_id``), logger name, level, timestamp, service
name, secrets redacted, exception rendered without frame locals, ``event`` renamed to
``message`` (Railway reads ``message`` and ``level``), rendered as JSON or console text,
written.

Folio's own lines go from structlog straight to the stream: no stdlib ``LogRecord``,
handler or formatter on the way. That path cost 120-150 µs a line against about 25 µs,
and the API writes a line per request (docs/performance.md). gunicorn's, Dramatiq's and
SQLAlchemy's stdlib lines go through the root handler's
:class:`structlog.stdlib.ProcessorFormatter`, with the same steps and the same renderer.
"""

from __future__ import annotations

import io
import logging
import logging.config
import re
import sys
from collections.abc import Callable, Iterable
from typing import Any, TextIO

import structlog
from structlog.typing import EventDict, ExcInfo, Processor, WrappedLogger

#: Keys whose values are always replaced, wherever they appear in an event.
SECRET_KEYS = frozenset(
    {"password", "api_key", "authorization", "secret", "token", "webhook_secret"}
)
REDACTED = "[redacted]"
_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^:/@\s]*:)(?P<pw>[^@\s]+)(?=@)", re.I)

_known_secrets: set[str] = set()

bind_contextvars = structlog.contextvars.bind_contextvars
clear_contextvars = structlog.contextvars.clear_contextvars
bound_contextvars = structlog.contextvars.bound_contextvars


def get_logger(name: str) -> Any:
    """The logger ``name``: every line it writes carries ``"logger": name``."""
    return structlog.get_logger(name)


class LineWriter(structlog.WriteLogger):
    """structlog's :class:`~structlog.WriteLogger` with the name it was asked for, which
    :func:`structlog.stdlib.add_logger_name` reads."""

    def __init__(self, file: TextIO, name: str = "folio") -> None:
        super().__init__(file)
        self.name = name


def line_writers(file: TextIO) -> Callable[..., LineWriter]:
    """The logger factory: ``get_logger(name)`` writes to ``file`` as ``name``."""
    return lambda *args: LineWriter(file, *args)


def register_secrets(values: Iterable[str]) -> None:
    """Values that must never reach a log line verbatim (keys, passwords from URLs)."""
    _known_secrets.update(v for v in values if v)


def redact_text(text: str) -> str:
    """Mask URL passwords and registered secrets in one string."""
    if "://" in text:  # the pattern needs it; most values have none
        text = _URL_PASSWORD.sub(lambda m: m.group("head") + REDACTED, text)
    for secret in _known_secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {
            k: REDACTED if str(k).lower() in SECRET_KEYS else _redact_value(v)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_redact_value(v) for v in value]
    return value


def redact_secrets(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """Processor: no password, key or token leaves the process in a log line."""
    for key, value in list(event_dict.items()):
        if key.lower() in SECRET_KEYS:
            event_dict[key] = REDACTED
        else:
            event_dict[key] = _redact_value(value)
    return event_dict


def add_service(service: str) -> Processor:
    def processor(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
        event_dict.setdefault("service", service)
        return event_dict

    return processor


#: What every line gets before rendering: its context, logger name, level and time.
CONTEXT: list[Processor] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_logger_name,
    structlog.processors.add_log_level,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


def _redacted_traceback(sio: TextIO, exc_info: ExcInfo) -> None:
    """Console tracebacks, plain (rich's would show frame locals) and with secrets masked."""
    buffer = io.StringIO()
    structlog.dev.plain_traceback(buffer, exc_info)
    sio.write(redact_text(buffer.getvalue()))


def _render_processors(service: str, fmt: str) -> list[Processor]:
    # The last steps of every line: Folio's (line_processors) and the stdlib's
    # (make_formatter).
    if fmt == "console":
        return [
            add_service(service),
            redact_secrets,
            structlog.dev.ConsoleRenderer(exception_formatter=_redacted_traceback),
        ]
    # format_exc_info turns exc_info into a string *before* redaction, so a secret in an
    # exception message is masked too; dict_tracebacks would also dump frame locals.
    return [
        add_service(service),
        structlog.processors.format_exc_info,
        redact_secrets,
        structlog.processors.EventRenamer("message"),
        structlog.processors.JSONRenderer(),
    ]


def line_processors(service: str, fmt: str = "json") -> list[Processor]:
    """What structlog does to a Folio line, from its context to its rendered text."""
    return [*CONTEXT, *_render_processors(service, fmt)]


def make_formatter(service: str, fmt: str = "json") -> structlog.stdlib.ProcessorFormatter:
    """The formatter of the stdlib's lines: the steps and renderer of Folio's own."""
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*CONTEXT, structlog.stdlib.ExtraAdder()],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            *_render_processors(service, fmt),
        ],
    )


def logging_config(
    service: str, level: str = "info", fmt: str = "json", stream: Any = "ext://sys.stdout"
) -> dict[str, Any]:
    """A :func:`logging.config.dictConfig` dict; gunicorn takes it as ``logconfig_dict``."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"structlog": {"()": make_formatter, "service": service, "fmt": fmt}},
        "handlers": {
            "stdout": {
                "class": "logging.StreamHandler",
                "stream": stream,
                "formatter": "structlog",
            }
        },
        "root": {"handlers": ["stdout"], "level": level.upper()},
        "loggers": {
            # gunicorn installs its own handlers; route them to the root instead.
            "gunicorn.error": {"handlers": [], "propagate": True, "level": level.upper()},
            "gunicorn.access": {"handlers": [], "propagate": True, "level": "INFO"},
            "sqlalchemy.engine": {"level": "WARNING"},
            "sqlalchemy.pool": {"level": "WARNING"},
            "pdfminer": {"level": "ERROR"},
            "backoff": {"level": "WARNING"},
        },
    }


def configure_logging(
    service: str,
    level: str = "info",
    fmt: str = "json",
    *,
    stream: TextIO | None = None,
    cache_loggers: bool = True,
) -> None:
    """Render Folio's and the stdlib's lines alike, to ``stream`` (stdout). Safe to call
    more than once.

    Parameters:
      service: the ``service`` member of every line.
      level: the lowest level written (``LOG_LEVEL``).
      fmt: ``json``, or ``console`` for people.
      stream: where lines go; standard output by default.
      cache_loggers: each logger is built on its first line and kept, with this stream and
        level. Tests turn it off, so that one can redirect lines (structlog's testing docs).
    """
    out = stream or sys.stdout
    logging.config.dictConfig(logging_config(service, level, fmt, out))
    structlog.configure(
        processors=line_processors(service, fmt),
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=line_writers(out),
        cache_logger_on_first_use=cache_loggers,
    )
    logging.captureWarnings(True)


def log_uncaught(exc_type: type[BaseException], exc: BaseException, tb: Any) -> None:
    """``sys.excepthook`` that logs a crash as one JSON line instead of a bare traceback."""
    get_logger("folio").critical("uncaught exception", exc_info=(exc_type, exc, tb))


def install_excepthook() -> None:
    sys.excepthook = log_uncaught
