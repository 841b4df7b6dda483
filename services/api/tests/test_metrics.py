"""``/api/v1/metrics``, ``/api/v1/stats`` and the status page, against the real app in-process.

The database and Redis are real; no worker runs, so enqueued messages stay in the queue.
Queue figures are compared before and after (other tests share the Redis namespace).
"""

from __future__ import annotations

import re

from conftest import OTHER_API_KEY, TEST_API_KEY
from folio_common import worker_reports
from folio_common.errors import ErrorCode
from folio_common.lifecycle import JobStatus
from folio_common.worker_reports import JobDurations, WorkerReport
from sqlalchemy import text
from testsupport.metrics import parse, series, value

METRICS_TOKEN = "metrics-token-0123456789"


def scrape(api, key=TEST_API_KEY):
    result = api.get("/api/v1/metrics", key=key)
    assert result.status_code == 200, result.text
    assert result.headers["content-type"].startswith("text/plain; version=0.0.4")
    return parse(result.text)


def test_metrics_need_an_api_key_or_the_metrics_token(make_api):
    api = make_api(METRICS_TOKEN=METRICS_TOKEN)
    assert api.get("/api/v1/metrics", key=None).status_code == 401
    assert api.get("/api/v1/metrics", key="not-a-valid-key-at-all").status_code == 401
    assert api.get("/api/v1/metrics", key=TEST_API_KEY).status_code == 200
    assert api.get("/api/v1/metrics", key=OTHER_API_KEY).status_code == 200
    assert api.get("/api/v1/metrics", key=METRICS_TOKEN).status_code == 200
    # The scraper's token reads metrics and nothing else.
    assert api.get("/api/v1/jobs", key=METRICS_TOKEN).status_code == 401
    assert api.get("/api/v1/stats", key=METRICS_TOKEN).status_code == 401


def test_without_a_metrics_token_only_api_keys_read_metrics(api):
    assert api.get("/api/v1/metrics", key=None).status_code == 401
    assert api.get("/api/v1/metrics", key="").status_code == 401


def test_job_counts_and_queue_depth_follow_submissions(api):
    before = scrape(api)
    job_ids = [api.new_job() for _ in range(2)]
    after = scrape(api)
    assert (
        value(after, "folio_jobs", status="queued")
        == value(before, "folio_jobs", status="queued") + 2
    )
    assert (
        value(after, "folio_queue_depth", queue="jobs")
        >= value(before, "folio_queue_depth", queue="jobs") + 2
    )
    assert value(after, "folio_queue_oldest_age_seconds") > 0
    assert value(after, "folio_metrics_source_up", source="postgres") == 1
    assert value(after, "folio_metrics_source_up", source="redis") == 1

    api.end(job_ids[0], JobStatus.FAILED, (ErrorCode.INVALID_PDF, "not a PDF"))
    api.succeed(job_ids[1], ["one", "two"])
    done = scrape(api)
    assert value(done, "folio_jobs", status="queued") == value(
        before, "folio_jobs", status="queued"
    )
    assert (
        value(done, "folio_jobs", status="failed")
        == value(before, "folio_jobs", status="failed") + 1
    )
    assert value(done, "folio_jobs_failed", error_code="invalid_pdf") == (
        value(before, "folio_jobs_failed", error_code="invalid_pdf") + 1
    )
    assert value(done, "folio_jobs", status="succeeded") == (
        value(before, "folio_jobs", status="succeeded") + 1
    )


def test_a_processing_job_with_a_stale_heartbeat_counts_as_stuck(api):
    job_id = api.new_job()
    api.start(job_id)
    assert value(scrape(api), "folio_jobs_stuck") == 0
    with api.db.engine.begin() as conn:
        conn.execute(
            text("UPDATE jobs SET heartbeat_at = now() - interval '1 hour' WHERE id = :id"),
            {"id": job_id},
        )
    assert value(scrape(api), "folio_jobs_stuck") == 1
    stats = api.get("/api/v1/stats").json
    assert stats["stuck"] == 1
    assert stats["jobs"]["processing"] == 1


def test_requests_are_counted_and_timed_by_route_template(api):
    job_id = api.new_job()
    route = "/api/v1/jobs/{job_id}"
    before = scrape(api)
    for _ in range(3):
        assert api.get(f"/api/v1/jobs/{job_id}").status_code == 200
    assert api.get("/api/v1/jobs/00000000-0000-0000-0000-000000000000").status_code == 404
    api.get("/no/such/route")
    after = scrape(api)

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("folio_http_requests_total", method="GET", route=route, status="200") == 3
    assert delta("folio_http_requests_total", method="GET", route=route, status="404") == 1
    assert delta("folio_http_requests_total", route="unmatched", status="404") == 1
    assert delta("folio_http_request_duration_seconds_count", method="GET", route=route) == 4
    assert delta("folio_http_request_duration_seconds_sum", method="GET", route=route) > 0
    # No raw path (a job id) ever becomes a label value.
    assert not any(job_id in str(labels) for _, labels, _ in after)


def test_pool_figures_describe_this_process(make_api):
    api = make_api(DB_POOL_SIZE="3", DB_MAX_OVERFLOW="2")
    samples = scrape(api)
    assert value(samples, "folio_api_db_pool_size") == 3
    assert value(samples, "folio_api_db_pool_capacity") == 5
    assert value(samples, "folio_api_process_db_pool_size") == 3
    assert 0 <= value(samples, "folio_api_db_pool_checked_out") <= 5


def test_worker_stats_in_redis_become_labelled_metrics(api, redis_client):
    settings = api.settings
    worker_id = "test-host:4242"
    report = WorkerReport(
        pid=4242,
        at=0.0,
        rss_bytes=123_456_789,
        sandbox_rss_bytes=5_000_000,
        pages_per_s=2.5,
        pages={"pdfminer": 30},
        parts={"pdfminer": 3},
        duration_buckets=(1.0, 10.0),
        jobs=(JobDurations("pdfminer", "succeeded", (1, 3, 3), sum_s=9.5, count=3),),
        ocr_pages=7,
        ocr_seconds=15.5,
        unread_pages={"memory_limit": 2},
    )
    worker_reports.publish(redis_client, settings, worker_id, report)
    # A dead worker's report is not reported (a valid one: only its liveness is missing).
    redis_client.hset(f"{settings.redis_namespace}:worker-stats", "dead-host:1", report.to_json())
    try:
        samples = scrape(api)
        assert value(samples, "folio_worker_rss_bytes", worker=worker_id) == 123_456_789
        assert value(samples, "folio_worker_sandbox_rss_bytes", worker=worker_id) == 5_000_000
        assert value(samples, "folio_worker_pages_per_second", worker=worker_id) == 2.5
        assert value(samples, "folio_worker_pages_total", worker=worker_id, engine="pdfminer") == 30
        labels = {"worker": worker_id, "engine": "pdfminer", "status": "succeeded"}
        assert value(samples, "folio_worker_job_duration_seconds_bucket", le="1.0", **labels) == 1
        assert value(samples, "folio_worker_job_duration_seconds_bucket", le="+Inf", **labels) == 3
        assert value(samples, "folio_worker_job_duration_seconds_count", **labels) == 3
        assert value(samples, "folio_workers_alive") >= 1
        assert value(samples, "folio_worker_ocr_pages_total", worker=worker_id) == 7
        assert value(samples, "folio_worker_ocr_seconds_total", worker=worker_id) == 15.5
        unread = {"worker": worker_id, "reason": "memory_limit"}
        assert value(samples, "folio_worker_pages_unread_total", **unread) == 2
        assert not series(samples, "folio_worker_rss_bytes", worker="dead-host:1")
        assert api.get("/api/v1/stats").json["workers"]["pages_per_s"] >= 2.5
    finally:
        worker_reports.forget(redis_client, settings, worker_id)
        worker_reports.forget(redis_client, settings, "dead-host:1")


def test_stats_document_needs_a_key_and_has_every_figure(api):
    assert api.get("/api/v1/stats", key=None).status_code == 401
    stats = api.get("/api/v1/stats").json
    assert set(stats) == {"jobs", "failures", "stuck", "oldest_queued_s", "queues", "workers"}
    assert set(stats["jobs"]) == set(JobStatus)
    assert set(stats["queues"]) == {"jobs", "parts", "webhooks"}
    assert set(stats["queues"]["jobs"]) == {"ready", "delayed", "in_flight"}


def test_status_page_is_open_and_self_contained(api):
    result = api.get("/", key=None)
    assert result.status_code == 200
    assert result.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in result.headers["content-security-policy"]
    page = result.text
    assert "sessionStorage" in page and "/api/v1/jobs" in page and "/api/v1/stats" in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)
    assert "http://" not in page and "https://" not in page
