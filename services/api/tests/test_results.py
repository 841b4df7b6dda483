"""GET /api/v1/jobs/{id}/result and /pages/{n}."""

from __future__ import annotations

from folio_common.errors import ErrorCode
from folio_common.lifecycle import JobStatus, transitions
from folio_common.page_reads import PageRead, ReadMethod

#: How a page read from its text layer is described.
FROM_TEXT_LAYER = {"method": "text", "ocr_confidence": None, "unread_reason": None}


def test_result_as_json(api):
    job_id = api.new_job()
    api.succeed(job_id, ["first page", "second page"])
    result = api.get(f"/api/v1/jobs/{job_id}/result")
    assert result.status_code == 200
    assert result.json == {
        "job_id": job_id,
        "metadata": {"title": "Folio test", "page_count": 2, "encrypted": False},
        "pages": [
            {"number": 1, "text": "first page", "chars": 10, **FROM_TEXT_LAYER},
            {"number": 2, "text": "second page", "chars": 11, **FROM_TEXT_LAYER},
        ],
        "ocr": {"pages": [], "mean_confidence": None, "unread": []},
    }


def test_each_page_says_how_it_was_read_and_the_result_sums_it_up(api):
    job_id = api.new_job()
    reads = {
        2: PageRead(ReadMethod.OCR, 91.0),
        3: PageRead(ReadMethod.OCR, 80.0),
        4: PageRead(ReadMethod.NONE, reason="memory_limit"),
    }
    api.succeed(job_id, ["text layer", "scanned", "scanned too", ""], reads)
    result = api.get(f"/api/v1/jobs/{job_id}/result").json
    assert [p["method"] for p in result["pages"]] == ["text", "ocr", "ocr", "none"]
    assert [p["ocr_confidence"] for p in result["pages"]] == [None, 91.0, 80.0, None]
    assert result["pages"][3]["unread_reason"] == "memory_limit"
    assert result["ocr"] == {
        "pages": [2, 3],
        "mean_confidence": 85.5,
        "unread": [{"number": 4, "reason": "memory_limit"}],
    }
    page = api.get(f"/api/v1/jobs/{job_id}/pages/2").json
    assert (page["method"], page["ocr_confidence"]) == ("ocr", 91.0)


def test_result_as_text_joins_pages_with_form_feeds(api):
    job_id = api.new_job()
    api.succeed(job_id, ["first", "second", "third é"])
    result = api.get(f"/api/v1/jobs/{job_id}/result", headers={"Accept": "text/plain"})
    assert result.headers["content-type"] == "text/plain; charset=utf-8"
    assert result.text == "first\fsecond\fthird é"


def test_one_page(api):
    job_id = api.new_job()
    api.succeed(job_id, ["first", "second"])
    assert api.get(f"/api/v1/jobs/{job_id}/pages/2").json == {
        "number": 2,
        "text": "second",
        "chars": 6,
        **FROM_TEXT_LAYER,
    }
    missing = api.get(f"/api/v1/jobs/{job_id}/pages/3")
    assert (missing.status_code, missing.json["code"]) == (404, "not_found")
    assert api.get(f"/api/v1/jobs/{job_id}/pages/0").status_code == 404
    # Beyond PostgreSQL's integers (the fuzz test's find): still a plain 404.
    for number in (2**31, 10**15, 10**30):
        assert api.get(f"/api/v1/jobs/{job_id}/pages/{number}").status_code == 404


def test_result_of_live_job_is_409_not_finished(api):
    job_id = api.new_job()
    for status in ("queued", "processing"):
        if status == "processing":
            api.start(job_id)
        for path in (f"/api/v1/jobs/{job_id}/result", f"/api/v1/jobs/{job_id}/pages/1"):
            result = api.get(path)
            assert result.status_code == 409
            assert result.json["code"] == "not_finished"
            assert result.json["job_status"] == status


def test_result_of_failed_job_is_409_with_its_error_code(api):
    job_id = api.new_job()
    api.start(job_id)
    api.end(job_id, JobStatus.FAILED, (ErrorCode.PASSWORD_REQUIRED, "the PDF is encrypted"))
    result = api.get(f"/api/v1/jobs/{job_id}/result")
    assert result.status_code == 409
    assert result.json["code"] == "password_required"
    assert result.json["detail"] == "the PDF is encrypted"
    assert result.json["job_status"] == "failed"


def test_result_of_purged_job_is_410(api):
    job_id = api.new_job()
    api.succeed(job_id, ["x"])
    api.db.transaction(transitions.purge, api.blobs, job_id)
    for path in (f"/api/v1/jobs/{job_id}/result", f"/api/v1/jobs/{job_id}/pages/1"):
        result = api.get(path)
        assert (result.status_code, result.json["code"]) == (410, "gone")


def test_text_splits_into_pages_when_a_page_contains_form_feeds(api):
    job_id = api.new_job()
    texts = ["one\fstill one", "two", "\fthree\f"]
    api.succeed(job_id, texts)
    plain = api.get(f"/api/v1/jobs/{job_id}/result", headers={"Accept": "text/plain"}).text
    assert plain.split("\f") == ["one\nstill one", "two", "\nthree\n"]
    # The JSON keeps the text as extracted.
    pages = api.get(f"/api/v1/jobs/{job_id}/result").json["pages"]
    assert [p["text"] for p in pages] == texts
