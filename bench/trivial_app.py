"""The ingestion baseline: a WSGI app that reads the request body and answers 202.

Served by gunicorn with the API's worker model, it is what an upload costs before any of
Folio's own work (auth, hashing, the database transaction, the enqueue).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable
from typing import Any

READ_SIZE = 64 * 1024


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    stream = environ["wsgi.input"]
    size = 0
    while chunk := stream.read(READ_SIZE):
        size += len(chunk)
    body = json.dumps({"id": str(uuid.uuid4()), "status": "queued", "size_bytes": size}).encode()
    start_response(
        "202 Accepted",
        [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
    )
    return [body]
