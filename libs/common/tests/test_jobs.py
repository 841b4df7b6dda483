"""The job repository and lifecycle: conditional state changes that redelivery cannot undo."""

from __future__ import annotations

import time
import uuid
from typing import Any

from folio_common import jobs
from folio_common.blobs import PostgresBlobStore, part_key, source_key
from folio_common.database import Database
from folio_common.errors import ErrorCode
from folio_common.lifecycle import end_job, purge_job
from folio_common.settings import Settings
from sqlalchemy import Connection, text

store = PostgresBlobStore()


def _insert(conn: Connection, owner: str = "tester", **options: Any) -> jobs.Job:
    return jobs.insert_job(
        conn,
        job_id=str(uuid.uuid4()),
        owner=owner,
        engine="pdfminer",
        options=options,
        filename="a.pdf",
        size_bytes=123,
        sha256="0" * 64,
    )


def _new_job(db: Database, owner: str = "tester", **options: Any) -> jobs.Job:
    return db.transaction(_insert, owner, **options)


def _claimed_with_parts(db: Database, parts: list[list[int]]) -> str:
    job_id = _new_job(db).id
    assert _claim(db, job_id) is not None
    db.transaction(
        jobs.plan_job,
        job_id,
        page_count=sum(len(p) for p in parts),
        metadata={"title": "t"},
        parts=[(pages, None) for pages in parts],
    )
    return job_id


def _claim(db: Database, job_id: str, stale_after_s: float = 60.0) -> jobs.Job | None:
    return db.transaction(jobs.claim_job, job_id, stale_after_s)


def _get(db: Database, job_id: str) -> jobs.Job:
    job = db.transaction(jobs.get_job, job_id)
    assert job is not None
    return job


def test_claim_moves_a_queued_job_to_processing_and_counts_the_attempt(db: Database) -> None:
    job = _new_job(db)
    assert (job.status, job.attempts) == ("queued", 0)
    claimed = _claim(db, job.id)
    assert claimed is not None
    assert (claimed.status, claimed.attempts) == ("processing", 1)
    assert claimed.started_at is not None and claimed.heartbeat_at is not None


def test_duplicate_message_of_a_running_job_neither_claims_nor_burns_an_attempt(
    db: Database,
) -> None:
    job = _new_job(db)
    claimed = _claim(db, job.id)
    assert claimed is not None
    assert _claim(db, job.id, stale_after_s=60) is None
    assert _get(db, job.id).attempts == 1


def test_processing_job_with_a_stale_heartbeat_is_claimed_again(db: Database) -> None:
    job = _new_job(db)
    claimed = _claim(db, job.id)
    assert claimed is not None
    time.sleep(0.05)
    again = _claim(db, job.id, stale_after_s=0.01)
    assert again is not None
    assert (again.status, again.attempts) == ("processing", 2)
    assert again.started_at == claimed.started_at


def test_released_job_is_claimed_again(db: Database) -> None:
    job = _new_job(db)
    _claim(db, job.id)
    db.transaction(jobs.release_job, job.id)
    assert _get(db, job.id).status == "queued"
    again = _claim(db, job.id)
    assert again is not None and again.attempts == 2


def test_claim_is_noop_for_finished_job(db: Database) -> None:
    job = _new_job(db)
    _claim(db, job.id)
    assert db.transaction(jobs.finish_job, job.id, jobs.SUCCEEDED, ttl_hours=1) is not None
    assert _claim(db, job.id) is None
    after = _get(db, job.id)
    assert (after.status, after.attempts) == ("succeeded", 1)


def test_recording_a_part_twice_gives_one_set_of_pages_and_counts_it_once(db: Database) -> None:
    job_id = _claimed_with_parts(db, [[1, 2], [3]])
    pages = [(1, "page one"), (2, "page two")]
    assert db.transaction(jobs.record_part, job_id, 0, pages) is None
    assert db.transaction(jobs.record_part, job_id, 0, pages) is None  # redelivery
    job = _get(db, job_id)
    assert (job.parts_done, job.pages_done, job.parts_total) == (1, 2, 2)
    assert db.transaction(jobs.get_pages, job_id) == [(1, "page one", 8), (2, "page two", 8)]
    assert [p.done for p in db.transaction(jobs.get_parts, job_id)] == [True, False]
    assert [p.part_no for p in db.transaction(jobs.get_parts, job_id, pending_only=True)] == [1]


def test_only_the_part_completing_the_set_returns_the_job(db: Database) -> None:
    job_id = _claimed_with_parts(db, [[1], [2], [3]])
    assert db.transaction(jobs.record_part, job_id, 2, [(3, "c")]) is None
    assert db.transaction(jobs.record_part, job_id, 0, [(1, "a")]) is None
    complete = db.transaction(jobs.record_part, job_id, 1, [(2, "b")])
    assert complete is not None
    assert (complete.parts_done, complete.parts_total, complete.pages_done) == (3, 3, 3)
    assert db.transaction(jobs.record_part, job_id, 1, [(2, "b")]) is None  # redelivered last
    assert [p for p, _, _ in db.transaction(jobs.get_pages, job_id)] == [1, 2, 3]


def test_record_part_after_cancel_writes_nothing(db: Database) -> None:
    job_id = _claimed_with_parts(db, [[1], [2]])
    db.transaction(jobs.finish_job, job_id, jobs.CANCELLED, ttl_hours=1)
    assert db.transaction(jobs.record_part, job_id, 0, [(1, "late")]) is None
    assert db.transaction(jobs.get_pages, job_id) == []
    job = _get(db, job_id)
    assert (job.status, job.parts_done, job.pages_done) == ("cancelled", 0, 0)
    assert not any(p.done for p in db.transaction(jobs.get_parts, job_id))


def test_finish_job_strips_the_password_and_is_final(db: Database) -> None:
    job = _new_job(db, password="pdf-secret", pages="1-3")
    assert job.options == {"password": "pdf-secret", "pages": "1-3"}
    failed = db.transaction(
        jobs.finish_job,
        job.id,
        jobs.FAILED,
        ttl_hours=2,
        error=(ErrorCode.WRONG_PASSWORD, "the password is wrong"),
    )
    assert failed is not None
    assert failed.options == {"pages": "1-3"}
    assert (failed.error_code, failed.error_message) == ("wrong_password", "the password is wrong")
    assert failed.finished_at is not None and failed.expires_at is not None
    assert 7100 < (failed.expires_at - failed.finished_at).total_seconds() < 7300
    assert db.transaction(jobs.finish_job, job.id, jobs.SUCCEEDED, ttl_hours=1) is None
    assert _get(db, job.id).status == "failed"


def test_list_jobs_pages_through_every_job_once_newest_first(db: Database) -> None:
    for _ in range(4):  # separate transactions: distinct created_at
        _new_job(db)

    def same_instant(conn: Connection) -> None:  # one transaction: equal created_at, id breaks ties
        for _ in range(5):
            _insert(conn)

    db.transaction(same_instant)
    _new_job(db, owner="other")
    everything = db.transaction(jobs.list_jobs, "tester", limit=100)
    assert len(everything) == 9
    assert [(j.created_at, uuid.UUID(j.id)) for j in everything] == sorted(
        ((j.created_at, uuid.UUID(j.id)) for j in everything), reverse=True
    )
    seen: list[str] = []
    cursor = None
    while True:
        page = db.transaction(jobs.list_jobs, "tester", limit=2, before=cursor)
        if not page:
            break
        assert len(page) <= 2
        seen += [j.id for j in page]
        cursor = (page[-1].created_at, page[-1].id)
    assert seen == [j.id for j in everything]

    _claim(db, everything[0].id)
    processing = db.transaction(jobs.list_jobs, "tester", status="processing")
    assert [j.id for j in processing] == [everything[0].id]


def test_get_job_hides_another_owners_job(db: Database) -> None:
    job = _new_job(db, owner="other")
    assert db.transaction(jobs.get_job, job.id, "tester") is None
    assert db.transaction(jobs.get_job, job.id, "other") is not None


def test_heartbeat_returns_each_jobs_status(db: Database) -> None:
    running = _new_job(db).id
    cancelled = _new_job(db).id
    for job_id in (running, cancelled):
        _claim(db, job_id)
    db.transaction(jobs.finish_job, cancelled, jobs.CANCELLED, ttl_hours=1)
    before = _get(db, running).heartbeat_at
    statuses = db.transaction(jobs.heartbeat, [running, cancelled, str(uuid.uuid4())])
    assert statuses == {running: "processing", cancelled: "cancelled"}
    after = _get(db, running).heartbeat_at
    assert before is not None and after is not None and after > before


def _blob_keys(db: Database, job_id: str) -> list[str]:
    with db.connect() as conn:
        return list(
            conn.execute(
                text("SELECT DISTINCT key FROM blobs WHERE key LIKE :p ORDER BY key"),
                {"p": f"jobs/{job_id}/%"},
            ).scalars()
        )


def _job_with_blobs(db: Database) -> str:
    job_id = _new_job(db).id

    def fill(conn: Connection) -> None:
        store.put(conn, source_key(job_id), [b"%PDF-1.7 source"])
        store.put(conn, part_key(job_id, 0), [b"%PDF-1.7 part 0"])
        store.put(conn, part_key(job_id, 1), [b"%PDF-1.7 part 1"])

    db.transaction(fill)
    _claim(db, job_id)
    return job_id


def test_end_job_removes_the_jobs_blobs(db: Database, settings: Settings) -> None:
    job_id = _job_with_blobs(db)
    other = _job_with_blobs(db)
    ended = db.transaction(end_job, store, settings, job_id, jobs.SUCCEEDED)
    assert ended is not None and ended.status == "succeeded"
    assert _blob_keys(db, job_id) == []
    assert len(_blob_keys(db, other)) == 3
    assert db.transaction(end_job, store, settings, job_id, jobs.FAILED) is None


def test_end_job_keeps_the_source_with_keep_source(db: Database, env: dict[str, str]) -> None:
    settings = Settings.from_env({**env, "KEEP_SOURCE": "true"})
    job_id = _job_with_blobs(db)
    db.transaction(end_job, store, settings, job_id, jobs.FAILED, (ErrorCode.TIMEOUT, "slow"))
    assert _blob_keys(db, job_id) == [source_key(job_id)]


def test_count_by_status_reports_every_status(db: Database) -> None:
    job = _new_job(db)
    _new_job(db)
    _claim(db, job.id)
    counts = db.transaction(jobs.count_by_status)
    assert counts == {
        "queued": 1,
        "processing": 1,
        "succeeded": 0,
        "failed": 0,
        "cancelled": 0,
    }


def test_heartbeat_of_no_jobs_is_empty(db: Database) -> None:
    assert db.transaction(jobs.heartbeat, []) == {}


def test_sweeper_finds_unenqueued_and_stale_jobs_and_requeues(db: Database) -> None:
    waiting = _new_job(db).id
    enqueued = _new_job(db).id
    db.transaction(jobs.mark_enqueued, enqueued)
    assert [j.id for j in db.transaction(jobs.unenqueued_jobs, 60)] == [waiting]

    running = _new_job(db).id
    _claim(db, running)
    assert db.transaction(jobs.stale_jobs, 60) == []
    time.sleep(0.05)
    assert [j.id for j in db.transaction(jobs.stale_jobs, 0.01)] == [running]
    assert db.transaction(jobs.requeue_job, running) is True
    requeued = _get(db, running)
    assert (requeued.status, requeued.enqueued_at) == ("queued", None)
    assert db.transaction(jobs.requeue_job, running) is False


def test_purge_removes_an_expired_jobs_results_but_keeps_its_row(db: Database) -> None:
    job_id = _job_with_blobs(db)
    db.transaction(
        jobs.plan_job, job_id, page_count=1, metadata={}, parts=[([1], part_key(job_id, 0))]
    )
    db.transaction(jobs.record_part, job_id, 0, [(1, "text")])
    db.transaction(jobs.finish_job, job_id, jobs.SUCCEEDED, ttl_hours=0)
    time.sleep(0.01)
    assert job_id in db.transaction(jobs.expired_jobs)

    db.transaction(purge_job, store, job_id)
    assert db.transaction(jobs.get_pages, job_id) == []
    assert db.transaction(jobs.get_parts, job_id) == []
    assert _blob_keys(db, job_id) == []
    assert _get(db, job_id).purged_at is not None
    assert job_id not in db.transaction(jobs.expired_jobs)
