"""A small HTTP client of Folio's API (stdlib ``urllib``: the CLI needs no HTTP library).

Errors become :class:`~folio_cli.exits.CliError` with the CLI's exit codes: a problem
document's ``detail`` for 4xx, ``UNREACHABLE`` for connection failures and 5xx.
"""

from __future__ import annotations

import json
import mimetypes
import os
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from . import __version__
from .exits import FAILED, UNREACHABLE, USAGE, CliError

#: Seconds a request may take beyond the long-poll it asks for.
TIMEOUT_S = 30.0
#: Bytes read from the file per chunk of an upload.
UPLOAD_CHUNK = 1024 * 1024


class ApiClient:
    """Calls to one Folio API with one key.

    Parameters:
      base_url: e.g. ``http://127.0.0.1:8000`` (no ``/api/v1``).
      api_key: sent as ``Authorization: Bearer``.
    """

    def __init__(self, base_url: str, api_key: str) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise CliError(f"the API URL must start with http:// or https://: {base_url}", USAGE)
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        headers: dict[str, str] | None = None,
        timeout: float = TIMEOUT_S,
    ) -> tuple[int, dict[str, str], bytes]:
        all_headers = {
            "Authorization": f"Bearer {self.api_key}",
            "User-Agent": f"folio-cli/{__version__}",
            **(headers or {}),
        }
        req = urllib.request.Request(  # noqa: S310 - the scheme is checked in __init__
            self.base_url + path, data=body, headers=all_headers, method=method
        )
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310
                return resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as exc:
            raise _problem(exc) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise CliError(
                f"cannot reach the API at {self.base_url}: {reason}", UNREACHABLE
            ) from None

    def get_json(self, path: str, **kwargs: Any) -> Any:
        _, _, data = self.request("GET", path, **kwargs)
        return json.loads(data)

    def submit(self, path: Path, fields: dict[str, str]) -> dict[str, Any]:
        """Upload ``path`` as multipart/form-data, streamed from disk."""
        boundary = f"folio-{uuid.uuid4().hex}"
        head = b"".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
            + value.encode()
            + b"\r\n"
            for name, value in fields.items()
        )
        content_type = mimetypes.guess_type(path.name)[0] or "application/pdf"
        filename = path.name.replace('"', "_")
        head += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="{filename}"\r\nContent-Type: {content_type}\r\n\r\n'
        ).encode()
        tail = f"\r\n--{boundary}--\r\n".encode()
        size = len(head) + os.path.getsize(path) + len(tail)

        def body() -> Iterator[bytes]:
            yield head
            with open(path, "rb") as fh:
                while chunk := fh.read(UPLOAD_CHUNK):
                    yield chunk
            yield tail

        _, _, data = self.request(
            "POST",
            "/api/v1/jobs",
            body=body(),
            headers={
                "Content-Type": f"multipart/form-data; boundary={boundary}",
                "Content-Length": str(size),
            },
            timeout=max(TIMEOUT_S, size / 1_000_000),
        )
        result: dict[str, Any] = json.loads(data)
        return result

    def job(self, job_id: str, wait_s: int = 0) -> dict[str, Any]:
        headers = {"Prefer": f"wait={wait_s}"} if wait_s else {}
        result: dict[str, Any] = self.get_json(
            f"/api/v1/jobs/{urllib.parse.quote(job_id)}",
            headers=headers,
            timeout=TIMEOUT_S + wait_s,
        )
        return result


def _problem(exc: urllib.error.HTTPError) -> CliError:
    """A CliError from an HTTP error answer (RFC 9457 problem when there is one)."""
    try:
        problem = json.loads(exc.read())
        detail = f"{problem.get('detail') or problem.get('title')} ({problem.get('code')})"
    except (ValueError, AttributeError):
        detail = exc.reason
    if exc.code >= 500:
        return CliError(f"the API answered {exc.code}: {detail}", UNREACHABLE)
    if exc.code in (401, 403):
        return CliError(f"the API refused the key: {detail}", USAGE)
    if exc.code in (404, 409, 410):
        return CliError(f"{detail}", FAILED, refused=True)
    return CliError(f"the API refused the request ({exc.code}): {detail}", USAGE, refused=True)
