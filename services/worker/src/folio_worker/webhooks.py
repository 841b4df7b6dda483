"""Webhook delivery: the finished job's status document, signed per Standard Webhooks.

Headers ``webhook-id`` (stable across retries, so receivers can deduplicate),
``webhook-timestamp`` and ``webhook-signature`` (``v1,`` + base64 HMAC-SHA256 of
``id.timestamp.body`` keyed with the base64 part of ``WEBHOOK_SECRET``). Callback URLs
are checked again here (:mod:`folio_common.callback_urls`, as at submission: DNS can
change): one resolving to a non-public address is refused unless ``WEBHOOK_ALLOW_PRIVATE``
is set; the connection goes to the address that was checked, so a DNS answer that changes
in between (rebinding) cannot redirect it. A DNS failure is a failed attempt, retried.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import socket
import ssl
import time
from dataclasses import dataclass
from typing import Any

from folio_common import callback_urls
from folio_common.callback_urls import CallbackRefused, CallbackUnresolved, split_callback_url
from folio_common.settings import Settings

USER_AGENT = "Folio-Webhooks/1"


class WebhookRefused(Exception):
    """The callback URL is not allowed (scheme, or an address that is not public)."""


@dataclass(frozen=True)
class Delivery:
    status_code: int | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def sign(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value for ``body``."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    content = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def resolve_public(host: str, port: int, allow_private: bool) -> str:
    """The address to connect to: checked public (unless allowed otherwise) at this moment.

    Raises :class:`WebhookRefused` (permanent) or :class:`CallbackUnresolved` (DNS failed:
    retried like any transient failure).
    """
    if allow_private:
        return callback_urls.resolve(host, port)[0]
    try:
        return callback_urls.resolve_public(host, port)[0]
    except CallbackRefused as exc:
        raise WebhookRefused(str(exc)) from None


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to a checked address, with SNI and certificate checks for the real host."""

    def __init__(self, host: str, address: str, **kwargs: Any) -> None:
        super().__init__(host, **kwargs)
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def deliver(settings: Settings, url: str, webhook_id: str, document: dict[str, Any]) -> Delivery:
    """POST ``document`` to ``url`` once. Raises :class:`WebhookRefused` for a refused URL."""
    try:
        parts, port = split_callback_url(url)
    except CallbackRefused as exc:
        raise WebhookRefused(str(exc)) from None
    assert parts.hostname is not None
    try:
        address = resolve_public(parts.hostname, port, settings.webhook_allow_private)
    except CallbackUnresolved as exc:
        # DNS can fail for a while: a failed attempt, retried with backoff, not a refusal.
        return Delivery(None, str(exc))
    body = json.dumps({"type": f"job.{document['status']}", "data": document}).encode()
    timestamp = int(time.time())
    headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
    }
    if settings.webhook_secret:
        headers["webhook-signature"] = sign(settings.webhook_secret, webhook_id, timestamp, body)
    timeout = settings.webhook_timeout_s
    conn: http.client.HTTPConnection
    if parts.scheme == "https":
        conn = _PinnedHTTPSConnection(
            parts.hostname,
            address,
            port=port,
            timeout=timeout,
            context=ssl.create_default_context(),
        )
    else:
        conn = http.client.HTTPConnection(address, port, timeout=timeout)
        headers["host"] = parts.netloc.rsplit("@", 1)[-1]
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    try:
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        response.read(64 * 1024)
        return Delivery(
            response.status, None if response.status < 300 else f"HTTP {response.status}"
        )
    except (OSError, http.client.HTTPException) as exc:
        return Delivery(None, f"{type(exc).__name__}: {exc}"[:300])
    finally:
        conn.close()
