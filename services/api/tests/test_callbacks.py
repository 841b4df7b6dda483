"""Callback URLs are checked at submission: the client hears why (422), not the worker later."""

from __future__ import annotations

import pytest

REFUSED = [
    "http://[64:ff9b::a9fe:a9fe]/hook",  # NAT64 of the metadata service
    "http://[2002:a9fe:a9fe::]/hook",  # 6to4
    "http://[::a9fe:a9fe]/hook",  # IPv4-compatible
    "http://[::127.0.0.1]/hook",
    "http://[::ffff:169.254.169.254]/hook",  # IPv4-mapped
    "http://[fec0::1]/hook",  # site-local
    "http://169.254.169.254/latest/meta-data/",
    "http://127.0.0.1:8080/hook",
    "http://10.0.0.1/hook",
    "http://localhost/hook",
    "http://example.com:99999/hook",  # port out of range
    "http://example.com/a b",  # a space
    "http://example.com/\r\nX-Injected: 1",  # CR/LF
    "http://no-such-host.invalid/hook",  # does not resolve
    "gopher://example.com/",
]


@pytest.fixture
def strict_api(make_api):
    return make_api(WEBHOOK_ALLOW_PRIVATE="false")


@pytest.mark.parametrize("url", REFUSED)
def test_each_refused_form_is_422_naming_the_reason(strict_api, url):
    result = strict_api.submit(fields={"callback_url": url})
    assert (result.status_code, result.json["field"]) == (422, "callback_url"), result.text
    assert result.json["detail"].startswith("callback_url"), result.json["detail"]
    assert strict_api.count("jobs") == 0


def test_raw_uploads_are_checked_the_same_way(strict_api):
    from testsupport.pdfs import make_pdf

    result = strict_api.submit_raw(make_pdf(1), {"callback_url": "http://[::127.0.0.1]/"})
    assert result.status_code == 422
    assert "IPv4-compatible" in result.json["detail"]


def test_a_public_address_is_accepted(strict_api):
    result = strict_api.submit(fields={"callback_url": "https://[2606:4700:4700::1111]/hook"})
    assert result.status_code == 202, result.text


def test_the_delivery_state_is_shown_on_the_job(api):
    from folio_common import jobs

    job_id = api.submit(fields={"callback_url": "http://127.0.0.1:9/hook"}).json["id"]
    assert api.get(f"/api/v1/jobs/{job_id}").json["webhook"]["state"] == "pending"

    def record(attempt: int, code: int | None, error: str | None, ok: bool) -> dict:
        api.db.transaction(
            jobs.record_delivery, job_id, webhook_id=f"msg_{job_id}", attempt=attempt,
            status_code=code, error=error, delivered=ok,
        )  # fmt: skip
        return api.get(f"/api/v1/jobs/{job_id}").json["webhook"]

    retrying = record(1, None, "cannot resolve example.invalid", False)
    assert (retrying["state"], retrying["attempts"]) == ("retrying", 1)
    assert retrying["last_error"] == "cannot resolve example.invalid"
    delivered = record(2, 204, None, True)
    assert (delivered["state"], delivered["attempts"], delivered["last_status_code"]) == (
        "delivered",
        2,
        204,
    )
    with api.db.engine.connect() as conn:
        last = conn.exec_driver_sql(
            "SELECT max(created_at) FROM webhook_deliveries WHERE job_id = %s", (job_id,)
        ).scalar()
    assert delivered["last_attempt_at"] == last.isoformat()  # as every other time shown
    other = api.new_job()
    assert "webhook" not in api.get(f"/api/v1/jobs/{other}").json  # no callback, no state
