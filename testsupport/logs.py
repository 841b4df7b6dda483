"""Capturing log lines in-process, as the services write them."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import structlog
from folio_common.logs import line_processors, line_writers, make_formatter


class LoggedLines:
    """The lines captured so far, rendered by Folio's JSON renderer and parsed."""

    def __init__(self, stream: io.StringIO) -> None:
        self._stream = stream

    def lines(self, logger: str | None = None) -> list[dict[str, Any]]:
        """Every line so far, or only those of ``logger``."""
        parsed = [json.loads(line) for line in self._stream.getvalue().splitlines()]
        return [line for line in parsed if logger is None or line["logger"] == logger]


@contextmanager
def logged_lines(level: int = logging.DEBUG, service: str = "test") -> Iterator[LoggedLines]:
    """Captures every line written inside the block at ``level`` and up: Folio's
    (structlog) and the stdlib's, as the ``service`` writes them. It needs loggers built
    per line (``cache_loggers=False``, as the conftest configures them), so that they
    write here."""
    stream = io.StringIO()
    saved = structlog.get_config()
    structlog.configure(
        processors=line_processors(service),
        logger_factory=line_writers(stream),
        wrapper_class=structlog.make_filtering_bound_logger(level),
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(make_formatter(service))
    root = logging.getLogger()
    root_level = root.level
    root.addHandler(handler)
    root.setLevel(level)
    try:
        yield LoggedLines(stream)
    finally:
        root.removeHandler(handler)
        root.setLevel(root_level)
        structlog.configure(**saved)
