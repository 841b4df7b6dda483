"""Every real-world PDF in ../shared/corpus ends the way its MANIFEST expects, with either
engine, within its limits, and the worker is still alive after the bombs.

Skipped when the corpus is absent (a fresh clone without ../shared).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from folio_common.database import Database
from folio_common.lifecycle import JobStatus
from folio_common.settings import Settings
from testsupport import jobs as tj
from testsupport.procs import Service, start_worker

pytestmark = [pytest.mark.corpus, pytest.mark.slow]

#: Outcomes a MANIFEST category allows: (status, error code).
ALLOWED = {
    "ok": {(JobStatus.SUCCEEDED, None)},
    # Damaged or pathological: recover what can be, or fail within the limits.
    "ok-partial": {
        (JobStatus.SUCCEEDED, None),
        (JobStatus.FAILED, "invalid_pdf"),
        (JobStatus.FAILED, "timeout"),
        (JobStatus.FAILED, "memory_limit"),
    },
    "error:invalid": {
        (JobStatus.FAILED, "invalid_pdf"),
        (JobStatus.FAILED, "timeout"),
        (JobStatus.FAILED, "memory_limit"),
    },
    "error:encrypted": {(JobStatus.FAILED, "password_required")},
}


def manifest(corpus: Path) -> list[dict[str, str]]:
    with open(corpus / "MANIFEST.tsv", newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def user_password(notes: str) -> str | None:
    found = re.search(r"user password '([^']+)'", notes)
    return found.group(1) if found else None


@pytest.fixture(scope="module")
def corpus_worker(
    worker_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    env = {**worker_env, "JOB_TIME_LIMIT_S": "20", "JOB_MEMORY_LIMIT_MB": "1024"}
    service = start_worker(env, tmp_path_factory.mktemp("corpus"))
    yield service
    service.stop()


@pytest.mark.parametrize("engine", ["pdfminer", "pdfium"])
def test_every_corpus_file_ends_as_its_manifest_expects(
    corpus: Path, settings: Settings, db: Database, corpus_worker: Service, engine: str
) -> None:
    submitted: list[tuple[str, str, set[tuple[str, str | None]]]] = []
    for entry in manifest(corpus):
        pdf = (corpus / entry["file"]).read_bytes()
        expected = entry["expected_outcome"]
        job_id = tj.submit(settings, db, pdf, engine=engine)
        submitted.append((entry["file"], job_id, ALLOWED[expected]))
        password = user_password(entry["notes"])
        if expected == "error:encrypted" and password:
            right = tj.submit(settings, db, pdf, engine=engine, password=password)
            wrong = tj.submit(settings, db, pdf, engine=engine, password=password + "-nope")
            submitted.append((entry["file"] + " +password", right, ALLOWED["ok"]))
            submitted.append(
                (entry["file"] + " +wrong", wrong, {(JobStatus.FAILED, "wrong_password")})
            )
    surprises = []
    for name, job_id, allowed in submitted:
        job = tj.wait_terminal(db, job_id, timeout=240)
        if (job.status, job.error_code) not in allowed:
            surprises.append((name, job.status, job.error_code, job.error_message))
    assert surprises == []
    assert corpus_worker.proc.poll() is None, "the worker died"


def test_text_of_known_files(
    corpus: Path, settings: Settings, db: Database, corpus_worker: Service
) -> None:
    cases = {
        ("simple1.pdf", "pdfminer"): "World",
        ("simple1.pdf", "pdfium"): "Hello World",
        ("002-trivial-libre-office-writer.pdf", "pdfminer"): "Lorem ipsum",
        ("multicolumn.pdf", "pdfium"): "",
    }
    for (name, engine), needle in cases.items():
        job_id = tj.submit(settings, db, (corpus / name).read_bytes(), engine=engine)
        job = tj.wait_terminal(db, job_id, timeout=120)
        assert job.status == JobStatus.SUCCEEDED
        text = "".join(page for _, page, _ in tj.pages(db, job_id))
        assert needle in text and text.strip()
