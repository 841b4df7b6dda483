"""A worker whose code expects an unapplied migration takes no job, says why, and picks
up the queued jobs within seconds of the migration landing."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import create_database, drop_database, through_pooler
from folio_common import jobs
from folio_common.database import Database
from folio_common.lifecycle import JobStatus
from folio_common.migrate import apply, migrations_dir
from folio_common.settings import Settings
from testsupport import jobs as tj
from testsupport.pdfs import make_pdf
from testsupport.procs import start_worker, wait_until

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
#: The migration the worker's code ships and the database lacks.
NEXT_ID = "0005_schema_guard_probe"


@pytest.fixture
def behind(env: dict[str, str], tmp_path: Path) -> Iterator[dict[str, str]]:
    """An environment on a database migrated to today, and the code's migrations, one more."""
    name = f"folio_guard_{uuid.uuid4().hex[:10]}"
    url = create_database(name)
    apply(Settings.from_env({"DATABASE_URL": url}))
    source = tmp_path / "migrations"
    shutil.copytree(migrations_dir(), source)
    (source / f"{NEXT_ID}.sql").write_text(
        "-- depends: 0004_webhooks\nALTER TABLE jobs ADD COLUMN IF NOT EXISTS guard_probe text;\n"
    )
    (source / f"{NEXT_ID}.rollback.sql").write_text(
        "ALTER TABLE jobs DROP COLUMN IF EXISTS guard_probe;\n"
    )
    guarded = {
        **env,
        "DATABASE_URL": through_pooler(url),
        "MIGRATE_DATABASE_URL": url,
        "REDIS_NAMESPACE": f"{env['REDIS_NAMESPACE']}-guard-{uuid.uuid4().hex[:6]}",
        "FOLIO_MIGRATIONS": str(source),
        "PART_PAGES": "10",
    }
    yield guarded
    drop_database(name)


def healthcheck(environ: dict[str, str]) -> tuple[int, str]:
    done = subprocess.run(
        [str(BIN / "folio-worker"), "healthcheck"],
        env={**environ, "PATH": str(BIN)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return done.returncode, done.stdout + done.stderr


def test_worker_behind_the_schema_takes_no_job_until_the_migration_lands(
    behind: dict[str, str], tmp_path: Path
) -> None:
    environ = behind
    settings = Settings.from_env(environ)
    db = Database.from_settings(settings, application_name="folio-test")
    worker = start_worker(environ, tmp_path)
    try:
        ids = [tj.submit(settings, db, make_pdf(3)) for _ in range(3)]
        # It says why, again and again, and the jobs stay queued meanwhile.
        wait_until(lambda: worker.log_text().count("waiting for the schema") >= 3, timeout=60)
        waiting = [
            json.loads(line)
            for line in worker.log_text().splitlines()
            if "waiting for the schema" in line
        ]
        assert f"pending migration {NEXT_ID}" in waiting[-1]["problems"]
        statuses = {db.transaction(jobs.get_job, i).status for i in ids}
        assert statuses == {JobStatus.QUEUED}
        rc, out = healthcheck(environ)
        assert rc == 1 and NEXT_ID in out, out
        # Nor does it sweep (its queued jobs waited past REQUEUE_AFTER_S meanwhile).
        assert '"sweep done"' not in worker.log_text()

        # `make migrate` with the code's migrations; the worker needs no restart.
        migrated = subprocess.run(
            [str(BIN / "folio-migrate"), "apply"],
            env={**environ, "PATH": str(BIN)},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert migrated.returncode == 0, migrated.stdout + migrated.stderr
        landed = time.monotonic()
        for job_id in ids:
            job = tj.wait_terminal(db, job_id, timeout=60)
            assert job.status == JobStatus.SUCCEEDED, (job.error_code, job.error_message)
        # Within a few of the guard's checks, not a restart or a sweep away.
        assert time.monotonic() - landed < 30
        assert "schema verified: taking jobs" in worker.log_text()
        wait_until(lambda: healthcheck(environ)[0] == 0, timeout=30, interval=1)
    finally:
        worker.stop()
        db.close()
