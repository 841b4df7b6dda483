"""Per-key limits: over each, 429 problem+json with Retry-After naming the limit, while
another key is unaffected. Each test has a Redis namespace of its own (the counters live
there) and turns on only the limit it tests."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
import redis
import requests
from conftest import OTHER_API_KEY, TEST_API_KEY
from testsupport.pdfs import make_pdf
from testsupport.procs import start_api, wait_until

from .conftest import Api


def limited(make_api: Callable[..., Api], **limits: str) -> Api:
    return make_api(REDIS_NAMESPACE=f"folio-limits-{uuid.uuid4().hex[:8]}", **limits)


def assert_limited(result, limit: str) -> None:
    assert result.status_code == 429, result.text
    assert result.json["code"] == "rate_limited"
    assert result.json["limit"] == limit
    assert int(result.headers["retry-after"]) >= 1


def test_request_rate_per_key(make_api):
    api = limited(make_api, RATE_LIMIT_PER_MINUTE="5")
    for _ in range(5):
        assert api.get("/api/v1/jobs").status_code == 200
    over = api.get("/api/v1/jobs")
    assert_limited(over, "RATE_LIMIT_PER_MINUTE")
    assert int(over.headers["retry-after"]) <= 60
    assert api.get("/api/v1/jobs", key=OTHER_API_KEY).status_code == 200
    # Open routes are not counted against anyone.
    assert api.get("/api/v1/health/live", key=None).status_code == 200


def test_jobs_in_flight_per_key(make_api):
    api = limited(make_api, MAX_JOBS_IN_FLIGHT="2")
    first = api.new_job()
    api.new_job()
    assert_limited(api.submit(), "MAX_JOBS_IN_FLIGHT")
    assert api.submit(key=OTHER_API_KEY).status_code == 202
    api.succeed(first, ["done"])  # one finishes: room for one more
    assert api.submit().status_code == 202


def padded_pdf(size: int) -> bytes:
    """A body that starts like a PDF and is ``size`` bytes long (no worker reads it)."""
    pdf = make_pdf(1)
    return pdf + b"%" + b"x" * (size - len(pdf) - 1)


def test_stored_bytes_per_key(make_api):
    api = limited(make_api, MAX_STORED_MB="1")
    assert api.submit_raw(padded_pdf(600_000)).status_code == 202
    over = api.submit_raw(padded_pdf(600_000))
    assert_limited(over, "MAX_STORED_MB")
    assert api.submit_raw(padded_pdf(600_000), key=OTHER_API_KEY).status_code == 202
    assert api.submit_raw(make_pdf(1)).status_code == 202  # what still fits is accepted


@pytest.mark.slow
def test_concurrent_uploads_per_key(env: dict[str, str], tmp_path: Path) -> None:
    namespace = f"folio-limits-{uuid.uuid4().hex[:8]}"
    service, base = start_api(
        {
            **env,
            "MAX_CONCURRENT_UPLOADS": "1",
            "WEB_CONCURRENCY": "1",
            "REDIS_NAMESPACE": namespace,
        },
        tmp_path,
    )
    pdf = make_pdf(1)
    host, port = base.removeprefix("http://").split(":")
    try:
        with socket.create_connection((host, int(port)), timeout=10) as slow:
            # An upload in progress: the head and half of the body, the rest held back.
            slow.sendall(
                f"POST /api/v1/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TEST_API_KEY}"
                f"\r\nContent-Type: application/pdf\r\nContent-Length: {len(pdf)}\r\n\r\n".encode()
                + pdf[: len(pdf) // 2]
            )

            def post(key: str) -> requests.Response:
                return requests.post(
                    f"{base}/api/v1/jobs",
                    data=pdf,
                    headers={"Authorization": f"Bearer {key}", "Content-Type": "application/pdf"},
                    timeout=10,
                )

            # The slow upload holds the key's one slot once its head is read: wait for that.
            slot = f"{namespace}:uploads:tester"
            wait_until(lambda: redis.Redis.from_url(env["REDIS_URL"]).get(slot) == b"1", 10)
            second = post(TEST_API_KEY)
            assert second.status_code == 429, second.text
            assert second.json()["limit"] == "MAX_CONCURRENT_UPLOADS"
            assert int(second.headers["Retry-After"]) >= 1
            assert post(OTHER_API_KEY).status_code == 202
            slow.sendall(pdf[len(pdf) // 2 :])
            assert slow.recv(64).startswith(b"HTTP/1.1 202")
        # The finished upload gave its slot back.
        assert post(TEST_API_KEY).status_code == 202
    finally:
        service.stop()


def test_a_retried_submission_gets_its_job_not_a_429(make_api):
    api = limited(make_api, MAX_JOBS_IN_FLIGHT="1")
    pdf = make_pdf(1)
    first = api.submit(pdf, headers={"Idempotency-Key": "retry-me"})
    assert first.status_code == 202
    again = api.submit(pdf, headers={"Idempotency-Key": "retry-me"})
    assert (again.status_code, again.json["id"]) == (200, first.json["id"])
    assert_limited(api.submit(pdf, headers={"Idempotency-Key": "a-new-one"}), "MAX_JOBS_IN_FLIGHT")
