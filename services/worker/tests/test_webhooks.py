"""Webhooks: signed per Standard Webhooks, retried after a failure, refused for private
addresses unless allowed. The receiver is a real HTTP server on loopback."""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.server
import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from folio_common.database import Database
from folio_common.lifecycle import JobStatus
from folio_common.settings import Settings
from sqlalchemy import text
from testsupport import jobs as tj
from testsupport.pdfs import make_pdf
from testsupport.procs import Service, wait_until

from folio_worker.webhooks import WebhookRefused, resolve_public, sign

SECRET = "whsec_" + base64.b64encode(b"folio-webhook-test-secret-32byte").decode()


class Receiver(http.server.ThreadingHTTPServer):
    def __init__(self, statuses: list[int]) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.statuses = statuses  # answers, in order; the last one repeats
        self.requests: list[tuple[dict[str, str], bytes]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hooks/folio?x=1"


class Handler(http.server.BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        self.server.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
        index = min(len(self.server.requests), len(self.server.statuses)) - 1
        self.send_response(self.server.statuses[index])
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[Callable[[list[int]], Receiver]]:
    servers: list[Receiver] = []

    def start(statuses: list[int]) -> Receiver:
        server = Receiver(statuses)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()


def deliveries(db: Database, job_id: str) -> list[tuple[int, int | None, bool, str | None]]:
    def read(conn: Any) -> list[tuple[int, int | None, bool, str | None]]:
        rows = conn.execute(
            text(
                """SELECT attempt, status_code, delivered, error FROM webhook_deliveries
                   WHERE job_id = :id ORDER BY id"""
            ),
            {"id": job_id},
        )
        return [tuple(r) for r in rows]

    return db.transaction(read)


def verify(headers: dict[str, str], body: bytes) -> bool:
    """What a receiver does: recompute the signature from the secret."""
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return hmac.compare_digest(headers["webhook-signature"], f"v1,{expected}")


@pytest.mark.slow  # a real worker process
def test_webhook_is_signed_and_retried_after_a_500(
    settings: Settings,
    db: Database,
    worker_env: dict[str, str],
    workers: Callable[..., Service],
    receiver: Callable[[list[int]], Receiver],
) -> None:
    server = receiver([500, 200])
    workers({**worker_env, "WEBHOOK_SECRET": SECRET, "WEBHOOK_ALLOW_PRIVATE": "true"})
    job_id = tj.submit(settings, db, make_pdf(2), callback_url=server.url)
    assert tj.wait_terminal(db, job_id).status == JobStatus.SUCCEEDED
    wait_until(lambda: len(server.requests) >= 2, timeout=60)
    (h1, b1), (h2, b2) = server.requests[:2]
    assert verify(h1, b1) and verify(h2, b2)
    assert h1["webhook-id"] == h2["webhook-id"] == f"msg_{job_id}"  # stable across retries
    document = json.loads(b2)
    assert document["type"] == "job.succeeded"
    assert document["data"]["id"] == job_id and document["data"]["status"] == "succeeded"
    wait_until(lambda: len(deliveries(db, job_id)) == 2, timeout=10)
    assert [(a, c, ok) for a, c, ok, _ in deliveries(db, job_id)] == [
        (1, 500, False),
        (2, 200, True),
    ]


@pytest.mark.slow  # a real worker process
def test_webhook_to_a_private_address_is_refused_by_default(
    settings: Settings,
    db: Database,
    worker_env: dict[str, str],
    workers: Callable[..., Service],
    receiver: Callable[[list[int]], Receiver],
) -> None:
    server = receiver([200])
    workers({**worker_env, "WEBHOOK_SECRET": SECRET, "WEBHOOK_ALLOW_PRIVATE": "false"})
    job_id = tj.submit(settings, db, make_pdf(1), callback_url=server.url)
    assert tj.wait_terminal(db, job_id).status == JobStatus.SUCCEEDED
    wait_until(lambda: deliveries(db, job_id), timeout=30)
    ((attempt, code, delivered, error),) = deliveries(db, job_id)
    assert (attempt, code, delivered) == (1, None, False)
    assert error is not None and "non-public address" in error
    assert server.requests == []


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "localhost", "10.1.2.3", "169.254.169.254", "192.168.0.1", "::1", "0.0.0.0"],
)
def test_non_public_addresses_are_refused_before_any_connection(host: str) -> None:
    with pytest.raises(WebhookRefused):
        resolve_public(host, 80, allow_private=False)


def test_signature_matches_the_standard_webhooks_example() -> None:
    # The test vector published with the Standard Webhooks specification.
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    expected = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    assert sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body) == expected
