"""The job lifecycle: every transition from every status, the attempts rule, after-commit
effects, and the checks a transition must not skip (a cancel racing a plan, a purge)."""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from folio_common import fleet, jobs
from folio_common.blobs import CHUNK_SIZE, part_key, source_key
from folio_common.broker import JOBS_QUEUE, PARTS_QUEUE, WEBHOOKS_QUEUE, create_broker
from folio_common.database import Database
from folio_common.errors import ErrorCode, JobError
from folio_common.lifecycle import JobStatus, Transition, transitions
from folio_common.lifecycle.effects import EnqueueJob, Step
from folio_common.lifecycle.runner import Lifecycle
from folio_common.lifecycle.states import RULES, allowed, exhausted
from folio_common.notify import CompletionHub
from folio_common.redis_client import create_redis
from folio_common.settings import Settings
from sqlalchemy import Connection, text

from testsupport import jobs as tj
from testsupport.lifecycle import BLOBS, age_heartbeat, claim, get, job_in, new_job, plan, submit_in

ROOT = Path(__file__).resolve().parents[3]

# -- the transition table, walked -----------------------------------------------------------


def _apply(db: Database, settings: Settings, transition: Transition, job: jobs.Job) -> bool:
    """Run ``transition`` on ``job``; True when it took effect."""
    error = JobError(ErrorCode.INVALID_PDF, "broken")
    match transition:
        case Transition.SUBMIT:  # the same id again: a job that exists cannot be submitted
            return False
        case Transition.CLAIM:
            age_heartbeat(db, job.id, settings.stuck_after_s + 60)
            return claim(db, settings, job.id) is not None
        case Transition.PLAN:
            return plan(db, job, [[1], [2]])
        case Transition.RECORD_PART:
            pages = [(1, "recorded by the walk")]
            db.transaction(transitions.record_part, BLOBS, settings, job.id, 0, pages)
            return (1, "recorded by the walk", 20) in tj.pages(db, job.id)
        case Transition.RESEND_PARTS:
            return bool(db.transaction(transitions.resend_parts, job, []).value)
        case Transition.SUCCEED:
            return db.transaction(transitions.succeed, BLOBS, settings, job.id).value is not None
        case Transition.FAIL:
            return (
                db.transaction(transitions.fail, BLOBS, settings, job.id, error).value is not None
            )
        case Transition.RELEASE:
            return bool(db.transaction(transitions.release, job.id, "transient").value)
        case Transition.RECOVER:
            return bool(db.transaction(transitions.recover, job).value)
        case Transition.REENQUEUE:
            return bool(db.transaction(transitions.reenqueue, job).value)
        case Transition.RESET:
            return db.transaction(transitions.reset, job.id).value is not None
        case Transition.CANCEL:
            return db.transaction(transitions.cancel, BLOBS, settings, job.id).value is not None
        case Transition.PURGE:
            return bool(db.transaction(transitions.purge, BLOBS, job.id).value)
    raise AssertionError(transition)


@pytest.mark.parametrize("transition", list(Transition))
@pytest.mark.parametrize("status", list(JobStatus))
def test_every_transition_from_every_status_is_allowed_or_refused_as_the_table_says(
    db: Database, settings: Settings, transition: Transition, status: JobStatus
) -> None:
    job = job_in(db, settings, status)
    if status == JobStatus.PROCESSING and transition == Transition.RECORD_PART:
        plan(db, job, [[1], [2]])  # a pending part to record
    took_effect = _apply(db, settings, transition, job)
    assert took_effect == allowed(transition, status)
    after = get(db, job.id).status
    target = RULES[transition].target
    assert after == (target if took_effect and target is not None else status)


def test_submit_is_the_only_way_in(db: Database) -> None:
    assert allowed(Transition.SUBMIT, None)
    assert not any(allowed(t, None) for t in Transition if t != Transition.SUBMIT)
    assert new_job(db).status == JobStatus.QUEUED


def test_a_running_job_with_a_fresh_heartbeat_is_not_claimed_again(
    db: Database, settings: Settings
) -> None:
    job = new_job(db)
    assert claim(db, settings, job.id) is not None
    assert claim(db, settings, job.id) is None  # a duplicate message
    assert get(db, job.id).attempts == 1


def test_no_status_literal_in_sql_outside_the_lifecycle() -> None:
    literal = re.compile(r"'(queued|processing|succeeded|failed|cancelled)'")
    offenders = []
    for folder in ("libs", "services"):
        for path in (ROOT / folder).rglob("src/**/*.py"):
            if "lifecycle" in path.parts:
                continue
            for number, line in enumerate(path.read_text().splitlines(), start=1):
                if literal.search(line):
                    offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == []


# -- the attempts rule ----------------------------------------------------------------------


def test_the_attempts_rule_at_its_boundary() -> None:
    assert not exhausted(1, 3)
    assert not exhausted(3, 3)
    assert exhausted(4, 3)


@pytest.fixture
def two_attempts(env: dict[str, str]) -> Settings:
    return Settings.from_env({**env, "MAX_ATTEMPTS": "2"})


def test_a_job_gets_max_attempts_claims_and_the_next_fails_it(
    db: Database, two_attempts: Settings
) -> None:
    job = new_job(db)
    for attempt in (1, 2):
        claimed = claim(db, two_attempts, job.id)
        assert claimed is not None and claimed.attempts == attempt
        age_heartbeat(db, job.id, two_attempts.stuck_after_s + 60)
    step = db.transaction(transitions.claim, BLOBS, two_attempts, job.id)
    assert step.value is None and len(step.effects) == 1
    failed = get(db, job.id)
    assert (failed.status, failed.error_code) == (JobStatus.FAILED, "worker_lost")


def test_a_small_job_is_claimed_with_its_source_in_one_statement(
    db: Database, two_attempts: Settings
) -> None:
    job = new_job(db, size_bytes=9, source=b"%PDF-1.7\n")
    claimed = db.statement(transitions.claim_small, two_attempts, job.id).value
    assert claimed is not None
    assert (claimed[0].status, claimed[0].attempts, claimed[1]) == (
        JobStatus.PROCESSING,
        1,
        b"%PDF-1.7\n",
    )
    # Running now: a duplicate message claims nothing, here or on the general path.
    assert db.statement(transitions.claim_small, two_attempts, job.id).value is None
    assert claim(db, two_attempts, job.id) is None
    assert get(db, job.id).attempts == 1


def test_the_one_statement_claim_leaves_other_jobs_to_the_general_claim(
    db: Database, two_attempts: Settings
) -> None:
    large = new_job(
        db, size_bytes=CHUNK_SIZE + 1, source=b"%PDF-"
    )  # its size says: more than one chunk
    assert db.statement(transitions.claim_small, two_attempts, large.id).value is None
    assert get(db, large.id).attempts == 0
    # The last attempt used: the general claim must see it, to fail the job.
    last = new_job(db, size_bytes=5, source=b"%PDF-")
    for _ in (1, 2):
        assert db.statement(transitions.claim_small, two_attempts, last.id).value is not None
        age_heartbeat(db, last.id, two_attempts.stuck_after_s + 60)
    assert db.statement(transitions.claim_small, two_attempts, last.id).value is None
    assert get(db, last.id).attempts == 2
    assert claim(db, two_attempts, last.id) is None
    assert get(db, last.id).error_code == "worker_lost"


def test_a_part_gets_max_attempts_claims_and_the_next_fails_its_job(
    db: Database, two_attempts: Settings
) -> None:
    job = claim(db, two_attempts, new_job(db).id)
    assert job is not None
    plan(db, job, [[1], [2]], keys=True)
    for _ in (1, 2):
        assert db.transaction(transitions.claim_part, BLOBS, two_attempts, job.id, 0).value
        age_heartbeat(db, job.id, two_attempts.stuck_after_s + 60)
    assert db.transaction(transitions.claim_part, BLOBS, two_attempts, job.id, 0).value is None
    assert (get(db, job.id).status, get(db, job.id).error_code) == (JobStatus.FAILED, "worker_lost")


# -- after-commit effects -------------------------------------------------------------------


@pytest.fixture
def isolated(env: dict[str, str]) -> Iterator[tuple[Settings, redis.Redis]]:
    """Settings with a Redis namespace of their own, so queue counts are this test's."""
    settings = Settings.from_env({**env, "REDIS_NAMESPACE": f"folio-fx-{uuid.uuid4().hex[:8]}"})
    client = create_redis(settings)
    yield settings, client
    for key in client.scan_iter(match=f"{settings.redis_namespace}*"):
        client.delete(key)
    client.close()


@pytest.fixture
def lifecycle(db: Database, isolated: tuple[Settings, redis.Redis]) -> Lifecycle:
    settings, client = isolated
    return Lifecycle(db, client, create_broker(settings, client), settings)


def _ready(lc: Lifecycle, queue: str) -> int:
    return fleet.queue_depths(lc.redis, lc.settings)[queue].ready


class Boom(Exception):
    """Raised inside a unit of work after a transition, to roll it back."""


def _then_fail(work: Callable[..., Step[Any]]) -> Callable[..., Step[Any]]:
    def failing(conn: Connection, *args: Any) -> Step[Any]:
        work(conn, *args)
        raise Boom

    return failing


def test_enqueue_job_runs_once_after_commit_and_never_after_rollback(
    db: Database, lifecycle: Lifecycle
) -> None:
    def submitting(conn: Connection) -> Step[jobs.Job]:
        job = submit_in(conn)
        return Step(job, (EnqueueJob(job.id, job.request_id),))

    with pytest.raises(Boom):
        lifecycle.run(_then_fail(submitting))
    assert _ready(lifecycle, JOBS_QUEUE) == 0
    assert db.transaction(jobs.count_by_status)["queued"] == 0

    job = lifecycle.run(submitting)
    assert _ready(lifecycle, JOBS_QUEUE) == 1
    assert get(db, job.id).enqueued_at is not None  # the effect's second half


def test_enqueue_part_runs_once_per_split_part_after_commit_only(
    db: Database, lifecycle: Lifecycle
) -> None:
    job = claim(db, lifecycle.settings, new_job(db).id)
    assert job is not None
    parts = [([1], part_key(job.id, 0)), ([2], part_key(job.id, 1)), ([3], None)]

    def planning(conn: Connection) -> Step[bool]:
        return transitions.plan(conn, job, page_count=3, metadata={}, parts=parts)

    with pytest.raises(Boom):
        lifecycle.run(_then_fail(planning))
    assert _ready(lifecycle, PARTS_QUEUE) == 0
    assert lifecycle.run(planning) is True
    assert _ready(lifecycle, PARTS_QUEUE) == 2


def test_announce_wakes_waiters_and_queues_the_webhook_once_after_commit_only(
    db: Database, lifecycle: Lifecycle
) -> None:
    job = new_job(db, callback_url="https://example.test/hook")
    error = JobError(ErrorCode.INVALID_PDF, "broken")
    hub = CompletionHub(lifecycle.redis, lifecycle.settings)
    with hub.listen(job.id) as listener:
        with pytest.raises(Boom):
            lifecycle.run(_then_fail(transitions.fail), BLOBS, lifecycle.settings, job.id, error)
        assert not listener.wait(0.3)
        assert _ready(lifecycle, WEBHOOKS_QUEUE) == 0
        assert get(db, job.id).status == JobStatus.QUEUED

        failed = lifecycle.run(transitions.fail, BLOBS, lifecycle.settings, job.id, error)
        assert failed is not None
        assert listener.wait(5)
        assert listener.finished_job(job.owner) == get(db, job.id)  # the event carries it
        assert not listener.wait(0.3)  # once
    hub.close()
    assert _ready(lifecycle, WEBHOOKS_QUEUE) == 1


def test_effects_that_cannot_reach_redis_are_left_to_the_sweeper(
    db: Database, settings: Settings
) -> None:
    dead = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5)
    lc = Lifecycle(db, dead, create_broker(settings, dead), settings)

    def submitting(conn: Connection) -> Step[jobs.Job]:
        job = submit_in(conn)
        return Step(job, (EnqueueJob(job.id, job.request_id),))

    job = lc.run(submitting)  # committed; the message could not be sent
    stored = get(db, job.id)
    assert stored.status == JobStatus.QUEUED and stored.enqueued_at is None
    assert [j.id for j in db.transaction(jobs.unenqueued_jobs, 60)] == [job.id]


# -- checks a transition must not skip ------------------------------------------------------


def _part_rows_and_blobs(db: Database, job_id: str) -> tuple[int, list[str]]:
    with db.connect() as conn:
        rows = conn.execute(
            text("SELECT count(*) FROM job_parts WHERE job_id = :id"), {"id": job_id}
        ).scalar_one()
        keys = list(
            conn.execute(
                text("SELECT DISTINCT key FROM blobs WHERE key LIKE :p ORDER BY key"),
                {"p": f"jobs/{job_id}/%"},
            ).scalars()
        )
    return rows, keys


def _plan_with_blobs(conn: Connection, job: jobs.Job) -> Step[bool]:
    """What the worker does: the plan, then its parts' blobs only if it was accepted."""
    parts = [([1], part_key(job.id, 0)), ([2], part_key(job.id, 1))]
    planned = transitions.plan(conn, job, page_count=2, metadata={"title": "t"}, parts=parts)
    if planned.value:
        for _, key in parts:
            BLOBS.put(conn, key, [b"%PDF-1.7 part"])
    return planned


def test_a_cancel_committed_before_the_plan_leaves_no_part_row_or_blob(
    db: Database, settings: Settings
) -> None:
    job = claim(db, settings, new_job(db).id)
    assert job is not None
    db.transaction(transitions.cancel, BLOBS, settings, job.id)
    assert db.transaction(_plan_with_blobs, job).value is False
    assert _part_rows_and_blobs(db, job.id) == (0, [])


def test_a_cancel_waiting_on_a_plan_in_flight_removes_its_parts_and_blobs(
    db: Database, settings: Settings
) -> None:
    job = claim(db, settings, new_job(db).id)
    assert job is not None
    with db.engine.connect() as conn, conn.begin():
        assert _plan_with_blobs(conn, job).value is True
        cancelled: list[jobs.Job | None] = []
        canceller = threading.Thread(
            target=lambda: cancelled.append(
                db.transaction(transitions.cancel, BLOBS, settings, job.id).value
            )
        )
        canceller.start()
        canceller.join(0.5)
        assert canceller.is_alive()  # blocked on the plan's row lock
    canceller.join(10)
    assert cancelled and cancelled[0] is not None
    assert _part_rows_and_blobs(db, job.id) == (0, [])


def test_purge_leaves_no_document_data(db: Database, settings: Settings) -> None:
    job = job_in(db, settings, JobStatus.SUCCEEDED)
    db.transaction(lambda conn: BLOBS.put(conn, source_key(job.id), [b"%PDF-1.7"]))
    assert get(db, job.id).metadata == {"title": "t"}
    assert db.transaction(transitions.purge, BLOBS, job.id).value is True
    purged = get(db, job.id)
    assert purged.purged_at is not None and purged.metadata is None
    assert tj.pages(db, job.id) == []
    assert _part_rows_and_blobs(db, job.id) == (0, [])


def test_ending_a_job_strips_the_password_and_drops_its_blobs(
    db: Database, env: dict[str, str]
) -> None:
    settings = Settings.from_env({**env, "RESULT_TTL_HOURS": "2"})
    job = new_job(db, password="pdf-secret", pages="1-3")
    assert (job.options.password, job.options.pages) == ("pdf-secret", "1-3")
    db.transaction(lambda conn: BLOBS.put(conn, source_key(job.id), [b"%PDF-1.7"]))
    error = JobError(ErrorCode.WRONG_PASSWORD, "the password is wrong")
    failed = db.transaction(transitions.fail, BLOBS, settings, job.id, error).value
    assert failed is not None
    assert (failed.options.password, failed.options.pages) == (None, "1-3")
    assert (failed.error_code, failed.error_message) == ("wrong_password", "the password is wrong")
    assert failed.finished_at is not None and failed.expires_at is not None
    assert 7100 < (failed.expires_at - failed.finished_at).total_seconds() < 7300
    assert _part_rows_and_blobs(db, job.id) == (0, [])


def test_keep_source_keeps_the_source_blob_when_a_job_ends(
    db: Database, env: dict[str, str]
) -> None:
    settings = Settings.from_env({**env, "KEEP_SOURCE": "true"})
    job = new_job(db)
    db.transaction(lambda conn: BLOBS.put(conn, source_key(job.id), [b"%PDF-1.7"]))
    db.transaction(lambda conn: BLOBS.put(conn, part_key(job.id, 0), [b"%PDF-1.7"]))
    db.transaction(transitions.cancel, BLOBS, settings, job.id)
    assert _part_rows_and_blobs(db, job.id) == (0, [source_key(job.id)])


def test_recording_parts_counts_each_once_and_the_last_succeeds_the_job(
    db: Database, settings: Settings
) -> None:
    job = claim(db, settings, new_job(db).id)
    assert job is not None
    plan(db, job, [[1], [2], [3]])

    def record(part_no: int, page: int) -> jobs.Job | None:
        pages = [(page, f"page {page}")]
        done: jobs.Job | None = db.transaction(
            transitions.record_part, BLOBS, settings, job.id, part_no, pages
        ).value
        return done

    assert record(2, 3) is None
    assert record(0, 1) is None
    assert record(0, 1) is None  # redelivered
    finished = record(1, 2)
    assert finished is not None and finished.status == JobStatus.SUCCEEDED
    assert (finished.parts_done, finished.pages_done) == (3, 3)
    assert record(1, 2) is None  # redelivered after the end: nothing written
    assert [p for p, _, _ in tj.pages(db, job.id)] == [1, 2, 3]


def test_each_part_keeps_its_own_ocr_pages_from_the_plan(db: Database, settings: Settings) -> None:
    job = claim(db, settings, new_job(db).id)
    assert job is not None
    key = source_key(job.id)
    parts = [([1, 2], key), ([3, 4], key), ([5], key)]
    assert db.transaction(
        transitions.plan, job, page_count=5, metadata={}, parts=parts, ocr_pages={2, 3, 4}
    ).value
    stored = db.transaction(jobs.get_parts, job.id)
    assert [p.ocr_pages for p in stored] == [[2], [3, 4], []]
    claimed = db.transaction(transitions.claim_part, BLOBS, settings, job.id, 1).value
    assert claimed is not None and (claimed.pages, claimed.ocr_pages) == ([3, 4], [3, 4])
    # A plan that does not say (as before parts kept them): the part decides when it runs.
    other = claim(db, settings, new_job(db).id)
    assert other is not None
    plan(db, other, [[1], [2]])
    assert [p.ocr_pages for p in db.transaction(jobs.get_parts, other.id)] == [None, None]


def _finish_small(db: Database, settings: Settings, job_id: str) -> jobs.Job | None:
    pages = [(1, "page one"), (2, "")]
    done: jobs.Job | None = db.statement(
        transitions.finish_small,
        settings,
        job_id,
        page_count=2,
        metadata={"title": "small"},
        pages=pages,
    ).value
    return done


def test_a_one_part_job_is_planned_recorded_and_succeeded_at_once(
    db: Database, settings: Settings
) -> None:
    job = claim(db, settings, new_job(db, password="pdf-secret", source=b"%PDF-1.7").id)
    assert job is not None
    finished = _finish_small(db, settings, job.id)
    assert finished is not None and finished == get(db, job.id)
    assert (finished.status, finished.page_count, finished.metadata) == (
        JobStatus.SUCCEEDED,
        2,
        {"title": "small"},
    )
    assert (finished.parts_done, finished.parts_total, finished.pages_done) == (1, 1, 2)
    assert (finished.pages_total, finished.options.password) == (2, None)
    assert finished.finished_at is not None and finished.expires_at is not None
    assert tj.pages(db, job.id) == [(1, "page one", 8), (2, "", 0)]
    assert _part_rows_and_blobs(db, job.id) == (0, [])
    assert _finish_small(db, settings, job.id) is None  # a duplicate after the end


def test_keep_source_keeps_the_source_blob_when_a_one_part_job_finishes(
    db: Database, env: dict[str, str]
) -> None:
    settings = Settings.from_env({**env, "KEEP_SOURCE": "true"})
    job = claim(db, settings, new_job(db, source=b"%PDF-1.7").id)
    assert job is not None
    assert _finish_small(db, settings, job.id) is not None
    assert _part_rows_and_blobs(db, job.id) == (0, [source_key(job.id)])


@pytest.mark.parametrize("status", [JobStatus.CANCELLED, JobStatus.QUEUED, JobStatus.FAILED])
def test_finishing_a_one_part_job_not_processing_writes_nothing(
    db: Database, settings: Settings, status: JobStatus
) -> None:
    job = job_in(db, settings, status)
    before = get(db, job.id)
    assert _finish_small(db, settings, job.id) is None
    assert get(db, job.id) == before
    assert tj.pages(db, job.id) == []


def test_a_job_planned_in_parts_is_not_finished_as_a_one_part_job(
    db: Database, settings: Settings
) -> None:
    job = claim(db, settings, new_job(db).id)
    assert job is not None
    plan(db, job, [[1], [2]])  # a claim that got further planned it: its parts decide
    assert _finish_small(db, settings, job.id) is None
    assert (get(db, job.id).status, get(db, job.id).parts_done) == (JobStatus.PROCESSING, 0)
    assert tj.pages(db, job.id) == []


def test_a_reset_job_starts_over(db: Database, settings: Settings) -> None:
    job = job_in(db, settings, JobStatus.FAILED)
    reset = db.transaction(transitions.reset, job.id)
    assert reset.value is not None and len(reset.effects) == 1
    again = get(db, job.id)
    assert (again.status, again.attempts, again.error_code) == (JobStatus.QUEUED, 0, None)


# -- the architecture document's diagram ------------------------------------------------------


def _edges_in_the_code() -> set[tuple[str, str, str]]:
    edges = set()
    for transition, rule in RULES.items():
        for source in rule.sources:
            start = "[*]" if source is None else source.value
            end = (rule.target or source or JobStatus.QUEUED).value
            edges.add((start, end, transition.value))
    return edges


def test_the_architecture_diagram_draws_exactly_the_transition_table() -> None:
    doc = (ROOT / "docs" / "architecture.md").read_text()
    block = doc.split("<!-- lifecycle-diagram", 1)[1].split("<!-- /lifecycle-diagram -->")[0]
    drawn = set(re.findall(r"^\s*(\[\*\]|\w+) --> (\w+) : (\w+)\s*$", block, re.M))
    expected = _edges_in_the_code()
    lines = "\n".join(f"    {a} --> {b} : {t}" for a, b, t in sorted(expected))
    assert drawn == expected, f"redraw docs/architecture.md's diagram:\n{lines}"
