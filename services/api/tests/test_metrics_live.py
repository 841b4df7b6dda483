"""Metrics of a real deployment: gunicorn with two processes, a worker, a worker killed.

The figures must move as the work does: jobs per status, worker-reported pages and
durations, HTTP counts summed over gunicorn's processes, pool gauges per process — and a
job whose worker was SIGKILLed shows as stuck until a restarted worker's sweeper
recovers it.
"""

from __future__ import annotations

import os
import signal

import pytest
import requests
from conftest import TEST_API_KEY
from folio_common import jobs
from folio_common.lifecycle import JobStatus
from testsupport import jobs as tj
from testsupport.metrics import scrape, series, value
from testsupport.pdfs import make_pdf
from testsupport.procs import BIN, Service, children, start_api, start_worker, wait_until

pytest.importorskip("folio_worker.cli")
pytestmark = pytest.mark.slow

AUTH = {"Authorization": f"Bearer {TEST_API_KEY}"}
METRICS_TOKEN = "scraper-token-0123456789"


@pytest.fixture
def live_env(env):
    # A namespace of its own: a worker SIGKILLed by an earlier test stays "alive" in the
    # shared one for workers.ALIVE_WINDOW_S, and this test counts live workers.
    namespace = env["REDIS_NAMESPACE"] + "-metrics"
    return {
        **env,
        "WEB_CONCURRENCY": "2",
        "METRICS_TOKEN": METRICS_TOKEN,
        "REDIS_NAMESPACE": namespace,
    }


def test_metrics_follow_jobs_workers_and_a_killed_worker(live_env, db, tmp_path):
    worker = Service("worker", [str(BIN / "folio-worker"), "run"], live_env, tmp_path)
    api, base = start_api(live_env, tmp_path)
    restarted = None
    try:
        wait_until(lambda: "worker ready" in worker.log_text(), timeout=60)
        before = scrape(base, METRICS_TOKEN)

        # Two small jobs, end to end.
        for pages in (2, 3):
            response = requests.post(
                f"{base}/api/v1/jobs",
                files={"file": (f"{pages}.pdf", make_pdf(pages), "application/pdf")},
                headers={**AUTH, "Prefer": "wait=30"},
                timeout=60,
            )
            assert response.json()["status"] == "succeeded", response.text
        for _ in range(8):  # spread requests over both gunicorn processes
            requests.get(f"{base}/api/v1/jobs", headers=AUTH, timeout=10).raise_for_status()

        def durations(samples):
            return value(
                samples,
                "folio_worker_job_duration_seconds_count",
                engine="pdfminer",
                status="succeeded",
            )

        wait_until(lambda: durations(scrape(base, TEST_API_KEY)) >= 2, timeout=15)
        after = scrape(base, TEST_API_KEY)

        def delta(name, **labels):
            return value(after, name, **labels) - value(before, name, **labels)

        assert delta("folio_jobs", status="succeeded") == 2
        assert delta("folio_worker_pages_total", engine="pdfminer") == 5
        assert delta("folio_worker_parts_total", engine="pdfminer") == 2
        assert durations(after) == 2
        assert value(after, "folio_workers_alive") == 1
        assert value(after, "folio_worker_rss_bytes") > 10_000_000
        assert value(after, "folio_worker_sandbox_rss_bytes") > 0
        assert value(after, "folio_worker_pages_per_second") > 0
        # Counted in whichever gunicorn process answered, summed in the exposition.
        posts = {"method": "POST", "route": "/api/v1/jobs", "status": "200"}
        assert delta("folio_http_requests_total", **posts) == 2
        assert delta("folio_http_requests_total", method="GET", route="/api/v1/jobs") == 8
        # Pool gauges: per live process (pid label) and their sum.
        pids = {s["pid"] for s in series(after, "folio_api_process_db_pool_size")}
        assert 1 <= len(pids) <= 2
        assert value(after, "folio_api_db_pool_size") == 8 * len(pids)
        assert value(after, "folio_api_db_pool_capacity") == 10 * len(pids)
        assert value(after, "folio_api_db_pool_wait_seconds_count") > 0
        assert value(after, "folio_queue_depth", queue="jobs") == 0

        # A job whose worker process is SIGKILLed mid-run shows as stuck.
        response = requests.post(
            f"{base}/api/v1/jobs",
            data=make_pdf(60, lines=60),
            headers={**AUTH, "Content-Type": "application/pdf"},
            timeout=30,
        )
        job_id = response.json()["id"]

        def status():
            return db.transaction(jobs.get_job, job_id).status

        # Held mid-run (its parts extract but cannot record) until the kill has landed, so
        # the job cannot finish first however fast the machine is.
        with tj.parts_held(db, job_id):
            wait_until(lambda: status() == JobStatus.PROCESSING, timeout=30, interval=0.05)
            (process,) = children(worker.proc.pid)  # the Dramatiq worker process
            os.kill(process, signal.SIGKILL)
            assert worker.proc.wait(30) != 0
        wait_until(lambda: value(scrape(base, TEST_API_KEY), "folio_jobs_stuck") == 1, timeout=30)
        assert status() == JobStatus.PROCESSING

        # A restarted worker (its sweeper runs every second) recovers and finishes it.
        restarted = start_worker(live_env, tmp_path, name="worker-restarted")
        wait_until(lambda: status() == JobStatus.SUCCEEDED, timeout=120, interval=0.5)
        final = scrape(base, TEST_API_KEY)
        assert value(final, "folio_jobs_stuck") == 0
        assert delta_from(before, final, "folio_jobs", status="succeeded") == 3
    finally:
        for service in (restarted, api, worker):
            if service is not None:
                service.stop()


def delta_from(before, after, name, **labels):
    return value(after, name, **labels) - value(before, name, **labels)
