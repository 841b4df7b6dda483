"""Operator commands against the real database and Redis, with no worker running."""

from __future__ import annotations

import dataclasses
import json

import pytest
from folio_common import jobs
from folio_common.errors import ErrorCode
from folio_common.fleet import queue_depths
from folio_common.lifecycle import JobStatus
from sqlalchemy import text
from testsupport import jobs as tj
from testsupport.lifecycle import age_heartbeat, claim
from testsupport.pdfs import make_pdf
from testsupport.procs import free_port

from folio_cli.main import build_parser, main, parse_duration


def stale(db, settings, job_id: str, attempts: int = 1) -> None:
    """Make ``job_id`` look like its worker died mid-run a minute ago."""
    assert claim(db, settings, job_id) is not None
    with db.engine.begin() as conn:
        conn.execute(
            text("UPDATE jobs SET attempts = :attempts WHERE id = :id"),
            {"id": job_id, "attempts": attempts},
        )
    age_heartbeat(db, job_id, 60)


def failed(db, settings, job_id: str, *, keep_source: bool) -> None:
    error = (ErrorCode.INVALID_PDF, "broken")
    if keep_source:  # what KEEP_SOURCE=true leaves behind
        settings = dataclasses.replace(settings, keep_source=True)
    tj.end(db, settings, job_id, JobStatus.FAILED, error)


def test_every_command_has_help(capsys):
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    assert set(commands) == {
        "submit", "status", "result", "jobs", "migrate", "verify", "sweep", "stuck",
        "requeue", "health",
    }  # fmt: skip
    for name in commands:
        with pytest.raises(SystemExit) as exit_info:
            parser.parse_args([name, "--help"])
        assert exit_info.value.code == 0
        assert "usage: folio" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("raw", "seconds"), [("90", 90), ("90s", 90), ("15m", 900), ("2h", 7200), ("1d", 86400)]
)
def test_durations(raw, seconds):
    assert parse_duration(raw) == seconds


@pytest.mark.slow  # runs the folio CLI in a subprocess
def test_migrate_and_verify(folio, db):
    migrate = folio("migrate")
    assert migrate.returncode == 0, migrate.stderr
    assert "schema up to date" in migrate.stdout
    verify = folio("verify")
    assert verify.returncode == 0, verify.stderr
    assert "schema verified" in verify.stdout


@pytest.mark.slow  # runs the folio CLI in a subprocess
def test_stuck_lists_silent_jobs_and_sweep_recovers_them(folio, db, settings):
    job_id = tj.insert(db, make_pdf(1))
    stale(db, settings, job_id)
    stuck = folio("stuck", "--json")
    assert stuck.returncode == 1, stuck.stderr
    (row,) = json.loads(stuck.stdout)
    assert row["id"] == job_id and row["silent_s"] >= 55

    sweep = folio("sweep", "--json")
    assert sweep.returncode == 0, sweep.stderr
    report = json.loads(sweep.stdout)
    assert report["recovered"] == 1
    job = db.transaction(jobs.get_job, job_id)
    assert job.status == JobStatus.QUEUED and job.enqueued_at is not None
    assert folio("stuck").returncode == 0


@pytest.mark.slow  # runs the folio CLI in a subprocess
def test_requeue_resets_a_failed_job_that_still_has_its_source(folio, db, settings, redis_client):
    job_id = tj.insert(db, make_pdf(1))
    failed(db, settings, job_id, keep_source=True)
    depth = queue_depths(redis_client, settings)["jobs"].ready
    result = folio("requeue", job_id)
    assert result.returncode == 0, result.stderr
    assert "requeued" in result.stdout
    job = db.transaction(jobs.get_job, job_id)
    assert job.status == JobStatus.QUEUED
    assert (job.attempts, job.error_code, job.error_message, job.finished_at) == (
        0,
        None,
        None,
        None,
    )
    assert job.enqueued_at is not None
    assert queue_depths(redis_client, settings)["jobs"].ready == depth + 1


@pytest.mark.slow  # runs the folio CLI in a subprocess
def test_requeue_refuses_jobs_whose_source_is_gone(folio, db, settings):
    kept, gone, done = (tj.insert(db, make_pdf(1)) for _ in range(3))
    failed(db, settings, kept, keep_source=True)
    failed(db, settings, gone, keep_source=False)
    tj.insert(db, make_pdf(1))  # queued: not a failed job
    tj.end(db, settings, done, JobStatus.CANCELLED)
    result = folio("requeue", "--failed", "--since", "1h", "--json")
    assert result.returncode == 1, result.stderr
    outcomes = {o["job_id"]: o for o in map(json.loads, result.stdout.splitlines())}
    assert set(outcomes) == {kept, gone}
    assert outcomes[kept]["ok"]
    assert not outcomes[gone]["ok"] and "source PDF was deleted" in outcomes[gone]["reason"]
    assert db.transaction(jobs.get_job, gone).status == JobStatus.FAILED


@pytest.mark.parametrize(
    "argv", [["requeue"], ["requeue", "--failed"], ["requeue", "x", "--failed", "--since", "1h"]]
)
def test_requeue_usage_errors(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert "requeue" in capsys.readouterr().err


def test_a_bad_duration_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["requeue", "--failed", "--since", "soon"])
    assert exit_info.value.code == 2


@pytest.mark.slow  # runs the folio CLI in a subprocess
def test_operator_commands_exit_3_when_the_database_is_unreachable(folio):
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/folio"
    result = folio("stuck", extra_env={"DATABASE_URL": url, "DB_CONNECT_TIMEOUT": "2"})
    assert result.returncode == 3, result.stderr
    assert "database unreachable" in result.stderr


def test_a_bad_setting_is_a_usage_error(monkeypatch, capsys):
    monkeypatch.setenv("DB_POOL_SIZE", "many")
    assert main(["stuck"]) == 2
    assert "DB_POOL_SIZE" in capsys.readouterr().err
