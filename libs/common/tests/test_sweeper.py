"""The sweeper: what makes "nothing accepted is lost" true when messages are lost."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import pytest
import redis
from folio_common import jobs
from folio_common.blobs import PostgresBlobStore, part_key, source_key
from folio_common.broker import JOBS_QUEUE, PARTS_QUEUE, create_broker
from folio_common.database import Database
from folio_common.redis_client import create_redis
from folio_common.settings import Settings
from folio_common.sweeper import Sweeper, sweep_once
from sqlalchemy import Connection, text

store = PostgresBlobStore()


@pytest.fixture
def sweeper(settings: Settings, db: Database) -> Iterator[Sweeper]:
    # A namespace of its own, so no running worker consumes what the sweep sends.
    own = Settings.from_env(
        {
            "DATABASE_URL": settings.database_url,
            "REDIS_URL": settings.redis_url,
            "REDIS_NAMESPACE": f"sweeper-{uuid.uuid4().hex[:8]}",
            "STUCK_AFTER_S": "5",
            "REQUEUE_AFTER_S": "5",
            "MAX_ATTEMPTS": "3",
        }
    )
    client = create_redis(own)
    yield Sweeper(db, store, client, create_broker(own, client), own)
    for key in client.scan_iter(match=f"{own.redis_namespace}*"):
        client.delete(key)


def queued_messages(sw: Sweeper, queue: str) -> int:
    client: redis.Redis = sw.redis
    return int(client.llen(f"{sw.settings.redis_namespace}-dramatiq:{queue}"))


def new_job(db: Database, *, split: int = 0, attempts: int = 0, stale: bool = True) -> str:
    """A processing job whose heartbeat is a minute old (its worker died)."""
    job_id = str(uuid.uuid4())

    def work(conn: Connection) -> None:
        jobs.insert_job(conn, job_id=job_id, owner="tester", engine="pdfminer", options={},
                        filename="a.pdf", size_bytes=3, sha256="0" * 64)  # fmt: skip
        store.put(conn, source_key(job_id), [b"%PDF-"])
        if split:
            parts = [([n], part_key(job_id, n)) for n in range(split)]
            jobs.plan_job(conn, job_id, page_count=split, metadata={}, parts=parts)
        age = "1 minute" if stale else "0 seconds"
        conn.execute(
            text(f"""UPDATE jobs SET status = 'processing', attempts = :a,
                     heartbeat_at = now() - interval '{age}' WHERE id = :id"""),
            {"id": job_id, "a": attempts},
        )  # fmt: skip

    db.transaction(work)
    return job_id


def get(db: Database, job_id: str) -> jobs.Job:
    job = db.transaction(jobs.get_job, job_id)
    assert job is not None
    return job


def test_job_whose_worker_died_is_requeued_and_enqueued(db: Database, sweeper: Sweeper) -> None:
    job_id = new_job(db, attempts=1)
    report = sweep_once(sweeper)
    assert report is not None and report.recovered == [job_id] and report.enqueued == 1
    job = get(db, job_id)
    assert (job.status, job.attempts) == (jobs.QUEUED, 1) and job.enqueued_at is not None
    assert queued_messages(sweeper, JOBS_QUEUE) == 1


def test_job_out_of_attempts_fails_worker_lost_with_its_last_error(
    db: Database, sweeper: Sweeper
) -> None:
    job_id = new_job(db, attempts=3)
    db.transaction(jobs.note_error, job_id, "OperationalError: server closed the connection")
    report = sweep_once(sweeper)
    assert report is not None and [j.id for j in report.lost] == [job_id]
    job = get(db, job_id)
    assert (job.status, job.error_code) == (jobs.FAILED, "worker_lost")
    assert job.error_message is not None and "server closed the connection" in job.error_message
    assert db.transaction(lambda c: list(store.read(c, source_key(job_id)))) == []


def test_split_job_gets_its_unfinished_parts_resent_without_losing_an_attempt(
    db: Database, sweeper: Sweeper
) -> None:
    job_id = new_job(db, split=3, attempts=1)
    db.transaction(
        lambda c: c.execute(
            text("UPDATE job_parts SET done_at = now() WHERE job_id = :id AND part_no = 0"),
            {"id": job_id},
        )
    )
    report = sweep_once(sweeper)
    assert report is not None and sorted(p for _, p, _ in report.parts) == [1, 2]
    job = get(db, job_id)
    assert (job.status, job.attempts) == (jobs.PROCESSING, 1)
    assert queued_messages(sweeper, PARTS_QUEUE) == 2
    # Its heartbeat was reset: the next sweep leaves it alone.
    again = sweep_once(sweeper)
    assert again is not None and again.parts == []


def test_live_job_is_left_alone(db: Database, sweeper: Sweeper) -> None:
    job_id = new_job(db, stale=False)
    report = sweep_once(sweeper)
    assert report is not None and report.recovered == [] and report.lost == []
    assert get(db, job_id).status == jobs.PROCESSING


def test_queued_job_never_enqueued_is_enqueued(db: Database, sweeper: Sweeper) -> None:
    job_id = new_job(db)
    db.transaction(
        lambda c: c.execute(
            text("UPDATE jobs SET status = 'queued' WHERE id = :id"), {"id": job_id}
        )
    )
    report = sweep_once(sweeper)
    assert report is not None and report.enqueue == [(job_id, None)] and report.enqueued == 1
    assert get(db, job_id).enqueued_at is not None


def test_expired_results_are_purged(db: Database, sweeper: Sweeper) -> None:
    job_id = new_job(db, stale=False)
    db.transaction(jobs.record_part, job_id, 0, [(1, "text")])
    db.transaction(
        lambda c: c.execute(
            text("""UPDATE jobs SET status = 'succeeded', expires_at = now() - interval '1 s'
                    WHERE id = :id"""),
            {"id": job_id},
        )
    )  # fmt: skip
    report = sweep_once(sweeper)
    assert report is not None and report.purged == [job_id]
    assert get(db, job_id).purged_at is not None
    assert db.transaction(jobs.get_pages, job_id) == []


def test_one_sweep_at_a_time(db: Database, sweeper: Sweeper) -> None:
    holding, release = threading.Event(), threading.Event()

    def hold(conn: Connection) -> None:
        assert jobs.try_sweeper_lock(conn)
        holding.set()
        release.wait(10)

    thread = threading.Thread(target=db.transaction, args=(hold,))
    thread.start()
    holding.wait(10)
    try:
        assert sweep_once(sweeper) is None
    finally:
        release.set()
        thread.join()
    assert sweep_once(sweeper) is not None
