"""The job repository's read side: listing, ownership, heartbeats, the sweeper's queries."""

from __future__ import annotations

import uuid

from folio_common import jobs
from folio_common.database import Database
from folio_common.lifecycle import JobStatus, transitions
from folio_common.settings import Settings
from sqlalchemy import Connection

from testsupport.lifecycle import BLOBS, age_heartbeat, claim, get, new_job, submit_in


def test_list_jobs_pages_through_every_job_once_newest_first(
    db: Database, settings: Settings
) -> None:
    for _ in range(4):  # separate transactions: distinct created_at
        new_job(db)

    def same_instant(conn: Connection) -> None:  # one transaction: equal created_at, id breaks ties
        for _ in range(5):
            submit_in(conn)

    db.transaction(same_instant)
    new_job(db, owner="other")
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

    claim(db, settings, everything[0].id)
    processing = db.transaction(jobs.list_jobs, "tester", status=JobStatus.PROCESSING)
    assert [j.id for j in processing] == [everything[0].id]


def test_get_job_hides_another_owners_job(db: Database) -> None:
    job = new_job(db, owner="other")
    assert db.transaction(jobs.get_job, job.id, "tester") is None
    assert db.transaction(jobs.get_job, job.id, "other") is not None


def test_heartbeat_returns_each_jobs_status(db: Database, settings: Settings) -> None:
    running = new_job(db).id
    cancelled = new_job(db).id
    for job_id in (running, cancelled):
        claim(db, settings, job_id)
    db.transaction(transitions.cancel, BLOBS, settings, cancelled)
    age_heartbeat(db, running, 10)
    before = get(db, running).heartbeat_at
    statuses = db.transaction(jobs.heartbeat, [running, cancelled, str(uuid.uuid4())])
    assert statuses == {running: JobStatus.PROCESSING, cancelled: JobStatus.CANCELLED}
    after = get(db, running).heartbeat_at
    assert before is not None and after is not None and after > before


def test_heartbeat_of_no_jobs_is_empty(db: Database) -> None:
    assert db.transaction(jobs.heartbeat, []) == {}


def test_count_by_status_reports_every_status(db: Database, settings: Settings) -> None:
    job = new_job(db)
    new_job(db)
    claim(db, settings, job.id)
    counts = db.transaction(jobs.count_by_status)
    assert counts == {
        "queued": 1,
        "processing": 1,
        "succeeded": 0,
        "failed": 0,
        "cancelled": 0,
    }


def test_sweeper_queries_find_unenqueued_and_stale_jobs(db: Database, settings: Settings) -> None:
    waiting = new_job(db).id
    enqueued = new_job(db).id
    db.transaction(transitions.note_enqueued, enqueued)
    assert [j.id for j in db.transaction(jobs.unenqueued_jobs, 60)] == [waiting]

    running = new_job(db).id
    claim(db, settings, running)
    assert db.transaction(jobs.stale_jobs, 60) == []
    age_heartbeat(db, running, 120)
    assert [j.id for j in db.transaction(jobs.stale_jobs, 60)] == [running]
    assert db.transaction(jobs.count_stuck, 60) == 1
