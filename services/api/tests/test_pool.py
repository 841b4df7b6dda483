"""Under real gunicorn: the pool never surfaces as a 500, long-polls hold no connection,
and a Redis outage does not stop submissions."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from conftest import POOLER_URL, TEST_API_KEY
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


def test_a_pool_below_the_threads_is_named_at_start(env, tmp_path):
    server, _ = start_api(
        {**env, "DB_POOL_SIZE": "2", "DB_MAX_OVERFLOW": "6", "WEB_THREADS": "8"}, tmp_path
    )
    server.stop()
    assert "DB_POOL_SIZE is below WEB_THREADS" in server.log_text()


def sessions_opened(db) -> int:
    """Connections PostgreSQL has accepted on the test database so far (PostgreSQL 14+)."""
    query = "SELECT sessions FROM pg_stat_database WHERE datname = current_database()"
    with db.engine.connect() as conn:
        conn.execute(text("SELECT pg_stat_clear_snapshot()"))
        return int(conn.execute(text(query)).scalar_one())


@pytest.mark.skipif(bool(POOLER_URL), reason="behind a pooler PostgreSQL sees its connections")
def test_the_default_pool_connects_once_per_thread_not_per_request(env, db, tmp_path):
    """An overflow connection is closed when returned: with DB_POOL_SIZE below the
    threads, requests beyond the pool connected anew under load (~200 per 3,000 uploads).
    With the defaults a process opens at most one connection per thread, ever."""
    server, base = start_api({**env, "WEB_THREADS": "8", "WEB_CONCURRENCY": "2"}, tmp_path)
    before = sessions_opened(db)
    pdf = make_pdf(1)

    def client(_: int) -> list[int]:
        with requests.Session() as session:
            return [
                session.post(
                    f"{base}/api/v1/jobs",
                    data=pdf,
                    headers={**AUTH, "Content-Type": "application/pdf"},
                    timeout=60,
                ).status_code
                for _ in range(25)
            ]

    try:
        with ThreadPoolExecutor(max_workers=16) as pool:
            statuses = [s for batch in pool.map(client, range(16)) for s in batch]
    finally:
        server.stop()  # its backends exit and report their sessions
    assert statuses == [202] * 400
    assert "DB_POOL_SIZE is below WEB_THREADS" not in server.log_text()
    # 2 processes x 8 threads; the sessions of exited backends are counted at their exit.
    assert sessions_opened(db) - before <= 16


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
