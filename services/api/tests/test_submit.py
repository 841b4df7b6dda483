"""POST /api/v1/jobs: streaming upload, validation, idempotency, Prefer: wait."""

from __future__ import annotations

import hashlib
import threading

from conftest import OTHER_API_KEY
from folio_common.blobs import source_key
from folio_common.options import JobOptions
from sqlalchemy import text
from testsupport.pdfs import make_pdf

MIB = 1024 * 1024


def stored_source(api, job_id: str) -> bytes:
    with api.db.engine.connect() as conn:
        return b"".join(api.blobs.read(conn, source_key(job_id)))


def test_multipart_upload_is_stored_and_enqueued(api):
    pdf = make_pdf(3)
    result = api.submit(
        pdf,
        fields={"engine": "pdfium", "pages": "1-2, 3", "password": "s3cret"},
        headers={"X-Request-ID": "req-42"},
    )
    assert result.status_code == 202
    doc = result.json
    assert result.headers["location"] == f"/api/v1/jobs/{doc['id']}"
    assert result.headers["x-request-id"] == "req-42"
    assert doc["status"] == "queued"
    assert doc["engine"] == "pdfium"
    assert doc["pages"] == "1-2,3"
    assert doc["filename"] == "doc.pdf"
    assert doc["size_bytes"] == len(pdf)
    assert doc["sha256"] == hashlib.sha256(pdf).hexdigest()
    assert "s3cret" not in result.text
    job = api.job(doc["id"])
    assert job.options == JobOptions(pages="1-2,3", password="s3cret")
    assert job.request_id == "req-42"
    assert job.enqueued_at is not None
    assert stored_source(api, doc["id"]) == pdf


def test_raw_body_upload_takes_options_from_query(api):
    pdf = make_pdf(2)
    result = api.submit_raw(
        pdf, {"filename": "../../etc/report.pdf", "callback_url": "https://example.com/hook"}
    )
    assert result.status_code == 202
    assert result.json["filename"] == "report.pdf"
    assert result.json["callback_url"] == "https://example.com/hook"
    assert result.json["engine"] == api.settings.default_engine
    assert stored_source(api, result.json["id"]) == pdf


def test_large_upload_spools_to_disk_and_streams_into_blobs(make_api):
    api = make_api(MAX_UPLOAD_MB="5")
    pdf = make_pdf(1) + b"%" + b"x" * (3 * MIB)  # trailing comment bytes: still a PDF
    result = api.submit_raw(pdf)
    assert result.status_code == 202
    assert stored_source(api, result.json["id"]) == pdf
    assert api.count("blobs") == 4  # ~1 MiB chunks


def test_too_large_by_content_length_stores_nothing(make_api):
    api = make_api(MAX_UPLOAD_MB="1")
    result = api.submit_raw(make_pdf(1) + b"%" + b"x" * MIB)
    assert result.status_code == 413
    assert result.json["code"] == "file_too_large"
    assert api.count("jobs") == 0 and api.count("blobs") == 0


def test_too_large_while_streaming_stores_nothing(make_api):
    api = make_api(MAX_UPLOAD_MB="1")
    # The body's Content-Length is within the multipart allowance; the file itself is not.
    pdf = make_pdf(1) + b"%" + b"x" * (MIB - 100)
    result = api.submit(pdf)
    assert result.status_code == 413
    assert result.json["code"] == "file_too_large"
    assert api.count("jobs") == 0 and api.count("blobs") == 0


def test_not_a_pdf_is_415(api):
    assert api.submit(b"hello, not a pdf").json["code"] == "unsupported_media_type"
    assert api.submit_raw(b"GIF89a" + b"\0" * 2000).status_code == 415
    assert api.submit_raw(b"").status_code == 415
    result = api.request(
        "POST", "/api/v1/jobs", body=make_pdf(1), headers={"Content-Type": "text/plain"}
    )
    assert result.status_code == 415
    assert api.count("jobs") == 0


def test_signature_after_first_kilobyte_is_refused(api):
    assert api.submit_raw(b" " * 1024 + make_pdf(1)).status_code == 415
    assert api.submit_raw(b" " * 100 + make_pdf(1)).status_code == 202


def test_invalid_options_are_422_naming_the_field(api):
    cases = [
        ({"engine": "tesseract"}, "engine"),
        ({"pages": "0-3"}, "pages"),
        ({"pages": "5-2"}, "pages"),
        ({"pages": "one"}, "pages"),
        ({"pages": "1,,2"}, "pages"),
        ({"callback_url": "ftp://example.com/x"}, "callback_url"),
        ({"callback_url": "not a url"}, "callback_url"),
        ({"colour": "blue"}, "colour"),
    ]
    for fields, field in cases:
        result = api.submit(fields=fields)
        assert result.status_code == 422, fields
        assert result.json["code"] == "validation_error"
        assert result.json["field"] == field
    result = api.submit_raw(make_pdf(1), {"pages": "x"})
    assert (result.status_code, result.json["field"]) == (422, "pages")
    result = api.submit_raw(make_pdf(1), {"bogus": "1"})
    assert (result.status_code, result.json["field"]) == (422, "bogus")
    assert api.count("jobs") == 0


def test_malformed_multipart_is_400(api):
    body, content_type = api.multipart({"engine": "pdfminer"}, None)
    result = api.request("POST", "/api/v1/jobs", body=body, headers={"Content-Type": content_type})
    assert result.status_code == 400
    assert "file" in result.json["detail"]
    result = api.request(
        "POST",
        "/api/v1/jobs",
        body=b"--nope\r\ngarbage",
        headers={"Content-Type": "multipart/form-data; boundary=other"},
    )
    assert (result.status_code, result.json["code"]) == (400, "validation_error")


def test_two_file_parts_are_400(api):
    one, content_type = api.multipart(None, make_pdf(1))
    body = one.removesuffix(b"--folio-test-boundary--\r\n") + one
    result = api.request("POST", "/api/v1/jobs", body=body, headers={"Content-Type": content_type})
    assert result.status_code == 400


def test_too_many_parts_is_400(api):
    one_field, _ = api.multipart({"engine": "pdfminer"}, None)
    field_part = one_field.removesuffix(b"--folio-test-boundary--\r\n")
    pdf_body, content_type = api.multipart(None, make_pdf(1))
    body = field_part * 20 + pdf_body
    result = api.request("POST", "/api/v1/jobs", body=body, headers={"Content-Type": content_type})
    assert (result.status_code, result.json["code"]) == (400, "validation_error")
    assert api.count("jobs") == 0


def test_idempotency_key_replays_the_first_job(api):
    pdf = make_pdf(2)
    key = {"Idempotency-Key": "order-1"}
    first = api.submit(pdf, fields={"pages": "1"}, headers=key)
    again = api.submit(pdf, fields={"pages": "1"}, headers=key)
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json["id"] == first.json["id"]
    assert again.headers["location"] == first.headers["location"]
    assert api.count("jobs") == 1


def test_idempotency_key_with_other_file_or_options_is_409(api):
    key = {"Idempotency-Key": "order-2"}
    assert api.submit(make_pdf(1), headers=key).status_code == 202
    other_file = api.submit(make_pdf(2), headers=key)
    assert (other_file.status_code, other_file.json["code"]) == (409, "conflict")
    other_options = api.submit(make_pdf(1), fields={"engine": "pdfium"}, headers=key)
    assert other_options.status_code == 409
    assert api.count("jobs") == 1


def test_idempotency_keys_are_per_owner(api):
    key = {"Idempotency-Key": "shared"}
    mine = api.submit(make_pdf(1), headers=key)
    theirs = api.submit(make_pdf(1), headers=key, key=OTHER_API_KEY)
    assert (mine.status_code, theirs.status_code) == (202, 202)
    assert mine.json["id"] != theirs.json["id"]


def test_concurrent_requests_with_one_idempotency_key_make_one_job(api):
    pdf = make_pdf(1)
    results = []

    def submit() -> None:
        results.append(api.submit(pdf, headers={"Idempotency-Key": "race"}))

    threads = [threading.Thread(target=submit) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(r.status_code for r in results) == [200] * 5 + [202]
    assert len({r.json["id"] for r in results}) == 1
    assert api.count("jobs") == 1


def test_invalid_idempotency_key_is_422(api):
    result = api.submit(headers={"Idempotency-Key": "x" * 300})
    assert (result.status_code, result.json["field"]) == (422, "Idempotency-Key")


def test_prefer_wait_on_submit_times_out_with_202(make_api):
    api = make_api(MAX_WAIT_S="1")
    result = api.submit(headers={"Prefer": "respond-async, wait=100"})
    assert result.status_code == 202
    assert result.headers["preference-applied"] == "wait=1"


def test_redis_down_still_accepts_the_job(make_api):
    api = make_api(REDIS_URL="redis://127.0.0.1:1/0")
    result = api.submit()
    assert result.status_code == 202
    job = api.job(result.json["id"])
    assert job.status == "queued" and job.enqueued_at is None  # the sweeper's to enqueue
    health = api.get("/api/v1/health", key=None)
    assert health.status_code == 503
    assert health.json["failing"] == ["redis"]
    assert health.json["checks"]["postgres"]["status"] == "ok"


def test_request_id_is_validated(api):
    result = api.submit(headers={"X-Request-ID": "bad id with spaces"})
    request_id = result.headers["x-request-id"]
    assert request_id != "bad id with spaces" and len(request_id) == 32
    with api.db.engine.connect() as conn:
        stored = conn.execute(text("SELECT request_id FROM jobs")).scalar_one()
    assert stored == request_id
