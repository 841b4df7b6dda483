"""GET/DELETE /api/v1/jobs/{id}, the listing, and one tenant never seeing another's jobs."""

from __future__ import annotations

import dataclasses
import threading
import time
import uuid

from conftest import OTHER_API_KEY
from folio_common import notify
from folio_common.errors import ErrorCode
from folio_common.lifecycle import JobStatus, transitions
from folio_common.redis_client import create_redis


def test_get_job_document(api):
    job_id = api.new_job()
    api.start(job_id, pages=4)
    doc = api.get(f"/api/v1/jobs/{job_id}").json
    assert doc["status"] == "processing"
    assert doc["page_count"] == 4
    assert doc["progress"] == {"pages_done": 0, "pages_total": 4}
    assert doc["parts"] == {"done": 0, "total": 1}
    assert doc["attempts"] == 1
    assert doc["started_at"] is not None
    assert doc["links"] == {"self": f"/api/v1/jobs/{job_id}", "result": None}


def test_unknown_or_malformed_job_id_is_404(api):
    assert api.get(f"/api/v1/jobs/{uuid.uuid4()}").json["code"] == "not_found"
    assert api.get("/api/v1/jobs/not-a-uuid").status_code == 404


def test_another_owners_job_is_404_everywhere(api):
    job_id = api.new_job()
    api.succeed(job_id, ["secret text"])
    for path in (
        f"/api/v1/jobs/{job_id}",
        f"/api/v1/jobs/{job_id}/result",
        f"/api/v1/jobs/{job_id}/pages/1",
    ):
        result = api.get(path, key=OTHER_API_KEY)
        assert (result.status_code, result.json["code"]) == (404, "not_found"), path
        assert "secret" not in result.text
    waited = api.get(f"/api/v1/jobs/{job_id}", key=OTHER_API_KEY, headers={"Prefer": "wait=1"})
    assert waited.status_code == 404
    assert api.delete(f"/api/v1/jobs/{job_id}", key=OTHER_API_KEY).status_code == 404
    assert api.get("/api/v1/jobs", key=OTHER_API_KEY).json["jobs"] == []
    assert api.job(job_id).purged_at is None


def test_long_poll_returns_when_the_job_finishes(api):
    job_id = api.new_job()
    api.start(job_id, pages=1)
    publisher = create_redis(api.settings)

    def finish_soon() -> None:
        time.sleep(0.5)
        api.db.transaction(
            transitions.record_part, api.blobs, api.settings, job_id, 0, [(1, "done")]
        )
        # An event without the job (an older worker's): the waiter reads the job.
        publisher.publish(notify.channel(api.settings, job_id), JobStatus.SUCCEEDED)

    thread = threading.Thread(target=finish_soon)
    started = time.monotonic()
    thread.start()
    result = api.get(f"/api/v1/jobs/{job_id}", headers={"Prefer": "wait=10"})
    elapsed = time.monotonic() - started
    thread.join()
    assert result.json["status"] == "succeeded"
    assert result.headers["preference-applied"] == "wait=10"
    assert 0.4 < elapsed < 3


def test_long_poll_answers_with_the_job_its_completion_event_carries(api):
    """No second read: the event is the answer (here it disagrees with the row on purpose)."""
    job_id = api.new_job()
    api.start(job_id, pages=1)
    published = dataclasses.replace(api.job(job_id), status=JobStatus.SUCCEEDED, pages_done=1)
    publisher = create_redis(api.settings)
    timer = threading.Timer(0.5, notify.publish_done, (publisher, api.settings, published))
    timer.start()
    result = api.get(f"/api/v1/jobs/{job_id}", headers={"Prefer": "wait=10"})
    timer.join()
    assert (result.json["status"], result.json["progress"]["pages_done"]) == ("succeeded", 1)
    assert api.job(job_id).status == JobStatus.PROCESSING


def test_long_poll_times_out_with_the_live_job(api):
    job_id = api.new_job()
    started = time.monotonic()
    result = api.get(f"/api/v1/jobs/{job_id}", headers={"Prefer": "wait=1"})
    assert 0.9 < time.monotonic() - started < 3
    assert (result.status_code, result.json["status"]) == (200, "queued")


def test_long_poll_on_finished_job_answers_at_once(api):
    job_id = api.new_job()
    api.succeed(job_id, ["x"])
    started = time.monotonic()
    result = api.get(f"/api/v1/jobs/{job_id}", headers={"Prefer": "wait=20"})
    assert time.monotonic() - started < 1
    assert result.json["status"] == "succeeded"
    assert result.json["links"]["result"] == f"/api/v1/jobs/{job_id}/result"


def test_submit_with_prefer_wait_returns_the_finished_job(api):
    job_id_box: list[str] = []
    publisher = create_redis(api.settings)

    def worker() -> None:
        # Play the worker: wait for the job to exist, then finish it.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not job_id_box:
            with api.db.engine.connect() as conn:
                row = conn.exec_driver_sql("SELECT id FROM jobs").first()
            if row is not None:
                job_id_box.append(str(row[0]))
            time.sleep(0.05)
        api.succeed(job_id_box[0], ["page one"])
        notify.publish_done(publisher, api.settings, api.job(job_id_box[0]))

    thread = threading.Thread(target=worker)
    thread.start()
    result = api.submit(headers={"Prefer": "wait=10"})
    thread.join()
    assert result.status_code == 200
    assert result.json["status"] == "succeeded"
    assert result.headers["preference-applied"] == "wait=10"


def test_delete_cancels_a_live_job(api):
    job_id = api.new_job()
    api.start(job_id)
    result = api.delete(f"/api/v1/jobs/{job_id}")
    assert result.status_code == 200
    assert result.json["status"] == "cancelled"
    assert result.json["error"] == {"code": "cancelled", "message": "cancelled by the client"}
    assert api.count("blobs") == 0
    job = api.job(job_id)
    assert job.status == "cancelled" and job.options.password is None
    # Its result is a 409 carrying the job's error code.
    failed = api.get(f"/api/v1/jobs/{job_id}/result")
    assert (failed.status_code, failed.json["code"]) == (409, "cancelled")


def test_delete_purges_a_finished_job(api):
    job_id = api.new_job()
    api.succeed(job_id, ["one", "two"])
    result = api.delete(f"/api/v1/jobs/{job_id}")
    assert result.status_code == 204
    assert api.count("job_pages") == 0 and api.count("blobs") == 0
    assert api.get(f"/api/v1/jobs/{job_id}/result").json["code"] == "gone"
    assert api.get(f"/api/v1/jobs/{job_id}").json["purged_at"] is not None
    assert api.delete(f"/api/v1/jobs/{job_id}").status_code == 204


def test_listing_pages_through_every_job_newest_first(api):
    ids = [api.new_job() for _ in range(5)]
    api.end(ids[1], JobStatus.FAILED, (ErrorCode.INVALID_PDF, "broken"))
    api.new_job(key=OTHER_API_KEY)
    seen: list[str] = []
    cursor = None
    for _ in range(5):
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = api.get("/api/v1/jobs", params=params).json
        seen += [job["id"] for job in page["jobs"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(ids))
    failed = api.get("/api/v1/jobs", params={"status": "failed"}).json
    assert [job["id"] for job in failed["jobs"]] == [ids[1]]
    assert failed["jobs"][0]["error"] == {"code": "invalid_pdf", "message": "broken"}
    assert failed["next_cursor"] is None
    assert len(api.get("/api/v1/jobs").json["jobs"]) == 5


def test_listing_takes_an_empty_status_or_cursor_as_left_out(api):
    ids = [api.new_job() for _ in range(3)]
    page = api.get("/api/v1/jobs", params={"status": "", "cursor": ""}).json
    assert [job["id"] for job in page["jobs"]] == list(reversed(ids))


def test_listing_rejects_bad_parameters(api):
    for params, field in (
        ({"status": "done"}, "status"),
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"cursor": "!!!"}, "cursor"),
        ({"cursor": "bm90IGEgY3Vyc29y"}, "cursor"),
    ):
        result = api.get("/api/v1/jobs", params=params)
        assert (result.status_code, result.json["field"]) == (422, field), params
