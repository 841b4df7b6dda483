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
from folio_common.lifecycle import JobStatus, transitions
from folio_common.lifecycle.runner import Lifecycle
from folio_common.redis_client import create_redis
from folio_common.settings import Settings
from folio_common.sweeper import Sweeper, sweep_once
from sqlalchemy import Connection, text

from testsupport import jobs as tj
from testsupport import lifecycle as lc
from testsupport.lifecycle import age_heartbeat, claim, get

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
    yield Sweeper(Lifecycle(db, client, create_broker(own, client), own), store)
    for key in client.scan_iter(match=f"{own.redis_namespace}*"):
        client.delete(key)


def queued_messages(sw: Sweeper, queue: str) -> int:
    client: redis.Redis = sw.lifecycle.redis
    return int(client.llen(f"{sw.lifecycle.settings.redis_namespace}-dramatiq:{queue}"))


def new_job(
    db: Database, settings: Settings, *, split: int = 0, attempts: int = 1, stale: bool = True
) -> str:
    """A processing job, claimed ``attempts`` times, whose heartbeat is a minute old (its
    worker died) unless not ``stale``."""
    job = claim(db, settings, lc.new_job(db).id)
    assert job is not None
    db.transaction(lambda conn: store.put(conn, source_key(job.id), [b"%PDF-"]))
    if split:
        db.transaction(
            transitions.plan,
            job,
            page_count=split,
            metadata={},
            parts=[([n], part_key(job.id, n)) for n in range(split)],
        )
    db.transaction(
        lambda conn: conn.execute(
            text("UPDATE jobs SET attempts = :a WHERE id = :id"), {"id": job.id, "a": attempts}
        )
    )
    if stale:
        age_heartbeat(db, job.id, 60)
    return job.id


def test_job_whose_worker_died_is_requeued_and_enqueued(
    db: Database, settings: Settings, sweeper: Sweeper
) -> None:
    job_id = new_job(db, settings, attempts=1)
    report = sweep_once(sweeper)
    assert report is not None and report.recovered == [job_id]
    job = get(db, job_id)
    assert (job.status, job.attempts) == (JobStatus.QUEUED, 1) and job.enqueued_at is not None
    assert queued_messages(sweeper, JOBS_QUEUE) == 1


def test_job_out_of_attempts_fails_worker_lost_with_its_last_error(
    db: Database, settings: Settings, sweeper: Sweeper
) -> None:
    job_id = new_job(db, settings, attempts=3)
    # A part's transient failure keeps its reason on the (still processing) job.
    reason = "OperationalError: server closed the connection"
    db.transaction(transitions.release_part, job_id, 0, reason)
    report = sweep_once(sweeper)
    assert report is not None and report.lost == [job_id]
    job = get(db, job_id)
    assert (job.status, job.error_code) == (JobStatus.FAILED, "worker_lost")
    assert job.error_message is not None and "server closed the connection" in job.error_message
    assert db.transaction(lambda c: list(store.read(c, source_key(job_id)))) == []


def test_split_job_gets_its_unfinished_parts_resent_without_losing_an_attempt(
    db: Database, settings: Settings, sweeper: Sweeper
) -> None:
    job_id = new_job(db, settings, split=3, attempts=1)
    db.transaction(
        lambda c: c.execute(
            text("UPDATE job_parts SET done_at = now() WHERE job_id = :id AND part_no = 0"),
            {"id": job_id},
        )
    )
    report = sweep_once(sweeper)
    assert report is not None and report.parts_resent == [job_id, job_id]
    job = get(db, job_id)
    assert (job.status, job.attempts) == (JobStatus.PROCESSING, 1)
    assert queued_messages(sweeper, PARTS_QUEUE) == 2
    # Its heartbeat was reset: the next sweep leaves it alone.
    again = sweep_once(sweeper)
    assert again is not None and again.parts_resent == []


def test_live_job_is_left_alone(db: Database, settings: Settings, sweeper: Sweeper) -> None:
    job_id = new_job(db, settings, stale=False)
    report = sweep_once(sweeper)
    assert report is not None and report.recovered == [] and report.lost == []
    assert get(db, job_id).status == JobStatus.PROCESSING


def test_queued_job_never_enqueued_is_enqueued(db: Database, sweeper: Sweeper) -> None:
    job_id = lc.new_job(db).id
    report = sweep_once(sweeper)
    assert report is not None and report.enqueued == [job_id]
    assert get(db, job_id).enqueued_at is not None
    assert queued_messages(sweeper, JOBS_QUEUE) == 1


def test_expired_results_are_purged(db: Database, settings: Settings, sweeper: Sweeper) -> None:
    job_id = lc.job_in(db, settings, JobStatus.SUCCEEDED).id
    db.transaction(
        lambda c: c.execute(
            text("UPDATE jobs SET expires_at = now() - interval '1 s' WHERE id = :id"),
            {"id": job_id},
        )
    )
    report = sweep_once(sweeper)
    assert report is not None and report.purged == [job_id]
    assert get(db, job_id).purged_at is not None
    assert tj.pages(db, job_id) == []


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
