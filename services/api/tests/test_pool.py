"""Under real gunicorn: the pool never surfaces as a 500, long-polls hold no connection,
and a Redis outage does not stop submissions."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from conftest import TEST_API_KEY
from sqlalchemy import text
from testsupport.pdfs import make_pdf
from testsupport.procs import start_api

pytestmark = pytest.mark.slow

AUTH = {"Authorization": f"Bearer {TEST_API_KEY}"}


def upload(base: str, pdf: bytes, **headers: str) -> requests.Response:
    return requests.post(
        f"{base}/api/v1/jobs",
        files={"file": ("doc.pdf", pdf, "application/pdf")},
        headers={**AUTH, **headers},
        timeout=60,
    )


def count_jobs(db) -> int:
    with db.engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM jobs")).scalar_one())


def test_200_concurrent_uploads_get_202_or_503_never_500(env, db, tmp_path):
    server, base = start_api(
        {
            **env,
            "DB_POOL_SIZE": "2",
            "DB_MAX_OVERFLOW": "0",
            "DB_POOL_TIMEOUT": "1",
            "WEB_THREADS": "8",
            "WEB_CONCURRENCY": "2",
        },
        tmp_path,
    )
    pdf = make_pdf(1)
    try:
        with ThreadPoolExecutor(max_workers=100) as pool:
            responses = list(pool.map(lambda _: upload(base, pdf), range(200)))
    finally:
        server.stop()
    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {202, 503}, sorted(set(statuses))
    for response in responses:
        if response.status_code == 503:
            assert response.headers["Retry-After"] == "2"
            assert response.json()["code"] == "unavailable"
    # Every 202 is a stored job, and no 503 left one behind.
    assert count_jobs(db) == statuses.count(202)
    assert '"Traceback' not in server.log_text()
    assert "fewer database connections than threads" in server.log_text()


def test_long_polls_hold_no_connection(env, db, tmp_path):
    server, base = start_api(
        {
            **env,
            "DB_POOL_SIZE": "1",
            "DB_MAX_OVERFLOW": "0",
            "DB_POOL_TIMEOUT": "1",
            "WEB_THREADS": "4",
            "WEB_CONCURRENCY": "1",
        },
        tmp_path,
    )
    pdf = make_pdf(1)
    try:
        job_id = upload(base, pdf).json()["id"]

        def long_poll() -> tuple[int, float]:
            response = requests.get(
                f"{base}/api/v1/jobs/{job_id}", headers={**AUTH, "Prefer": "wait=3"}, timeout=30
            )
            return response.status_code, time.monotonic()

        with ThreadPoolExecutor(max_workers=2) as pool:
            polls = [pool.submit(long_poll) for _ in range(2)]
            time.sleep(0.5)
            submitted = upload(base, pdf)
            submitted_at = time.monotonic()
            results = [poll.result() for poll in polls]
    finally:
        server.stop()
    assert submitted.status_code == 202
    assert [status for status, _ in results] == [200, 200]
    # The submission went through while both long-polls were still waiting.
    assert all(submitted_at < finished_at for _, finished_at in results)


def test_redis_unreachable_still_accepts_and_health_names_it(env, db, tmp_path):
    server, base = start_api({**env, "REDIS_URL": "redis://127.0.0.1:1/0"}, tmp_path)
    try:
        response = upload(base, make_pdf(1))
        health = requests.get(f"{base}/api/v1/health", timeout=10)
    finally:
        server.stop()
    assert response.status_code == 202
    assert health.status_code == 503
    assert health.json()["status"] == "error"
    assert health.json()["failing"] == ["redis"]
    assert health.json()["checks"]["redis"]["status"] == "error"
    assert "could not send a message; the sweeper sends it later" in server.log_text()
