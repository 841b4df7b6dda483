"""Nothing accepted is lost when the worker dies, is redeployed, or Redis restarts.

Each test runs workers of its own (the platform's restart is the test starting another)
and checks the invariants: the job ends ``succeeded`` and every page is there once.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from folio_common import jobs
from folio_common.database import Database
from folio_common.lifecycle import JobStatus
from folio_common.settings import Settings
from testsupport import jobs as tj
from testsupport.pdfs import make_pdf, page_text
from testsupport.procs import Service, children, free_port, wait_until

pytestmark = pytest.mark.slow  # real worker processes, killed and restarted

#: Dense pages: pdfminer needs ~25 ms each, so a 200-page job runs for seconds.
DENSE_LINES = 20


def assert_complete(db: Database, job_id: str, pages: int, timeout: float = 120) -> jobs.Job:
    job = tj.wait_terminal(db, job_id, timeout=timeout)
    assert job.status == JobStatus.SUCCEEDED, (job.error_code, job.error_message)
    rows = tj.pages(db, job_id)
    assert [n for n, _, _ in rows] == list(range(1, pages + 1))
    assert all(text.startswith(page_text(n)) for n, text, _ in rows)
    assert job.pages_done == job.pages_total == pages
    assert job.parts_done == job.parts_total
    return job


def test_sigkill_of_a_worker_process_mid_job_loses_nothing(
    settings: Settings, db: Database, worker_env: dict[str, str], workers: Callable[..., Service]
) -> None:
    first = workers(worker_env)
    job_id = tj.insert(db, make_pdf(200))
    with tj.parts_held(db, job_id):  # in flight until the kill, on any machine
        tj.enqueue_inserted(settings, db, job_id)
        wait_until(lambda: tj.planned(db, job_id), timeout=60, interval=0.05)
        (process,) = children(first.proc.pid)  # the Dramatiq worker process (1 per test worker)
        subprocess.run(["kill", "-9", str(process)], check=True)
        # Dramatiq's master does not respawn a dead worker process: it exits non-zero so the
        # platform restarts the container.
        assert first.proc.wait(30) != 0
    assert "exited unexpectedly" in first.log_text()
    workers(worker_env)
    assert_complete(db, job_id, 200)


def test_sigterm_during_a_job_finishes_it_after_the_redeploy(
    settings: Settings, db: Database, worker_env: dict[str, str], workers: Callable[..., Service]
) -> None:
    first = workers({**worker_env, "WORKER_SHUTDOWN_TIMEOUT_S": "2"})
    job_id = tj.insert(db, make_pdf(200))
    with tj.parts_held(db, job_id):  # in flight when the signal lands, on any machine
        tj.enqueue_inserted(settings, db, job_id)
        wait_until(lambda: tj.planned(db, job_id), timeout=60, interval=0.05)
        first.signal(signal.SIGTERM)
    assert first.proc.wait(30) == 0  # a clean stop, like a Railway redeploy
    workers(worker_env)
    assert_complete(db, job_id, 200)


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[Callable[[], None]]:
    """A private redis-server; calling the fixture's value restarts it (losing every key)."""
    port = free_port()
    argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--dir", str(tmp_path)]  # fmt: skip
    procs = [subprocess.Popen(argv, stdout=subprocess.DEVNULL)]
    client = redis.Redis(port=port)
    wait_until(client.ping, timeout=10)

    def restart() -> None:
        procs[-1].send_signal(signal.SIGKILL)
        procs[-1].wait()
        time.sleep(2)
        procs.append(subprocess.Popen(argv, stdout=subprocess.DEVNULL))
        wait_until(client.ping, timeout=10)

    restart.url = f"redis://127.0.0.1:{port}/0"  # type: ignore[attr-defined]
    yield restart
    for proc in procs:
        proc.kill()
        proc.wait()


def test_redis_restart_mid_run_loses_no_job(
    db: Database,
    worker_env: dict[str, str],
    workers: Callable[..., Service],
    own_redis: Callable[[], None],
) -> None:
    env = {**worker_env, "REDIS_URL": own_redis.url}  # type: ignore[attr-defined]
    settings = Settings.from_env(env)
    workers(env)
    sizes = [1, 2, 35, 3, 60, 1, 25, 2]
    job_ids = [tj.submit(settings, db, make_pdf(n, lines=DENSE_LINES)) for n in sizes]
    wait_until(lambda: any(tj.in_progress(db, j) for j in job_ids), timeout=60, interval=0.05)
    own_redis()  # every queued message is gone
    for job_id, size in zip(job_ids, sizes, strict=True):
        assert_complete(db, job_id, size, timeout=180)


def test_small_job_overtakes_a_large_one(
    settings: Settings, db: Database, worker_env: dict[str, str], workers: Callable[..., Service]
) -> None:
    workers(worker_env)
    big = tj.submit(settings, db, make_pdf(300, lines=DENSE_LINES))
    wait_until(lambda: tj.in_progress(db, big), timeout=60, interval=0.05)
    small = tj.submit(settings, db, make_pdf(1))
    small_job = tj.wait_terminal(db, small, timeout=60)
    big_job = db.transaction(jobs.get_job, big)
    assert small_job.status == JobStatus.SUCCEEDED
    assert big_job is not None and not big_job.is_terminal, "the small job waited for the big one"
    assert small_job.finished_at is not None and small_job.started_at is not None
    assert_complete(db, big, 300, timeout=180)
