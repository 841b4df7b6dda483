"""Every real-world PDF in ../shared/corpus ends the way its MANIFEST expects, with either
engine, within its limits, and the worker is still alive after the bombs.

``ok-partial`` is strict where the notes name an engine that reads the file: the job must
succeed with that text (the damaged-file fallback, issue 14). With ``ocr=auto`` the scans
without a text layer carry text read by OCR and no page of any other file goes to OCR;
with ``ocr=off`` the scans succeed empty, as before OCR existed.

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
from folio_common.page_reads import ReadMethod
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


#: "pdfminer and pdfium return 'Potato'", "pdfium recovers 10 pages": an engine reads it.
_ENGINE_READS = re.compile(
    r"\b(?:pdfium|pdfminer)\b[^;]*?\b(?:returns?|recovers) "
    r"(?:'(?P<needle>[^']+)'|(?P<pages>\d+) pages)"
)


def engine_reads(notes: str) -> tuple[str, int] | None:
    """(text the job must contain, pages it must have; 0: any) when the notes name an
    engine that reads the file, else None."""
    found = _ENGINE_READS.search(notes)
    if found is None:
        return None
    return found["needle"] or "", int(found["pages"] or 0)


def without_text_layer(entry: dict[str, str]) -> bool:
    return entry["category"] == "scanned" and "no text layer" in entry["notes"]


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


@pytest.mark.parametrize(
    ("engine", "ocr"), [("pdfminer", "auto"), ("pdfium", "auto"), ("pdfminer", "off")]
)
def test_every_corpus_file_ends_as_its_manifest_expects(
    corpus: Path, settings: Settings, db: Database, corpus_worker: Service, engine: str, ocr: str
) -> None:
    submitted: list[tuple[str, str, set[tuple[str, str | None]]]] = []
    entries = {entry["file"]: entry for entry in manifest(corpus)}
    for entry in entries.values():
        pdf = (corpus / entry["file"]).read_bytes()
        expected = entry["expected_outcome"]
        allowed = ALLOWED[expected]
        if expected == "ok-partial" and engine_reads(entry["notes"]):
            allowed = ALLOWED["ok"]
        job_id = tj.submit(settings, db, pdf, engine=engine, ocr=ocr)
        submitted.append((entry["file"], job_id, allowed))
        password = user_password(entry["notes"])
        if expected == "error:encrypted" and password:
            right = tj.submit(settings, db, pdf, engine=engine, password=password, ocr=ocr)
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
            continue
        if job.status != JobStatus.SUCCEEDED or name not in entries:
            continue
        text = "".join(page for _, page, _ in tj.pages(db, job_id))
        methods = {r.method for r in tj.page_reads(db, job_id).values()}
        reads = engine_reads(entries[name]["notes"])
        if reads and entries[name]["expected_outcome"] == "ok-partial":
            needle, pages = reads
            if needle not in text or (pages and job.page_count != pages) or not text.strip():
                surprises.append((name, "text an engine reads is missing", job.page_count))
        if without_text_layer(entries[name]):
            if ocr == "auto" and (methods != {ReadMethod.OCR} or len(text.strip()) < 20):
                surprises.append((name, "scan not read by OCR", methods, len(text)))
            if ocr == "off" and (methods != {ReadMethod.TEXT} or text.strip()):
                surprises.append((name, "ocr=off changed a scan", methods, len(text)))
        elif ReadMethod.OCR in methods:
            surprises.append((name, "a text-bearing file went to OCR", methods))
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
