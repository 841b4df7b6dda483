"""Every scan and bomb of ../shared/corpus/ocr ends as its ``expect`` says with ``ocr=auto``
(its README says how to read it), and the worker serves the next job after the bombs.

Skipped when the corpus is absent.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pytest
from folio_common.database import Database
from folio_common.lifecycle import JobStatus
from folio_common.page_reads import ReadMethod
from folio_common.settings import Settings
from testsupport import jobs as tj
from testsupport.pdfs import make_pdf, page_text
from testsupport.procs import Service, start_worker

pytestmark = [pytest.mark.corpus, pytest.mark.slow]

#: How a bomb may end: read within the pixel budget, or stopped by a limit.
BOMB_ENDS = {
    (JobStatus.SUCCEEDED, None),
    (JobStatus.FAILED, "memory_limit"),
    (JobStatus.FAILED, "timeout"),
}


def entries(corpus: Path) -> list[dict[str, str]]:
    with open(corpus / "ocr" / "MANIFEST.tsv", newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def expected_phrases(expect: str) -> dict[int, list[str]]:
    """``1:a|b;2:c`` → {1: ["a", "b"], 2: ["c"]}."""
    phrases = {}
    for item in expect.split(";"):
        page, _, wanted = item.partition(":")
        phrases[int(page)] = wanted.split("|")
    return phrases


def collapsed(text: str) -> str:
    return " ".join(text.split()).lower()


@pytest.fixture(scope="module")
def ocr_corpus_worker(
    worker_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    env = {**worker_env, "JOB_TIME_LIMIT_S": "60", "JOB_MEMORY_LIMIT_MB": "1024"}
    service = start_worker(env, tmp_path_factory.mktemp("ocr-corpus"))
    yield service
    service.stop()


def test_every_ocr_corpus_file_ends_as_its_expect_says(
    corpus: Path, settings: Settings, db: Database, ocr_corpus_worker: Service
) -> None:
    submitted = [
        (entry, tj.submit(settings, db, (corpus / "ocr" / entry["file"]).read_bytes()))
        for entry in entries(corpus)
    ]
    surprises = []
    for entry, job_id in submitted:
        job = tj.wait_terminal(db, job_id, timeout=600)
        if entry["expect"] == "bomb":
            if (job.status, job.error_code) not in BOMB_ENDS:
                surprises.append((entry["file"], job.status, job.error_code))
            continue
        if job.status != JobStatus.SUCCEEDED:
            surprises.append((entry["file"], job.status, job.error_code, job.error_message))
            continue
        texts = {n: collapsed(text) for n, text, _ in tj.pages(db, job_id)}
        reads = tj.page_reads(db, job_id)
        for page, phrases in expected_phrases(entry["expect"]).items():
            missing = [p for p in phrases if collapsed(p) not in texts.get(page, "")]
            if missing:
                surprises.append((entry["file"], page, missing, reads[page]))
        if not any(r.method == ReadMethod.OCR for r in reads.values()):
            surprises.append((entry["file"], "no page read by OCR"))
    assert surprises == []
    # After the bombs the worker is alive and serves the next job.
    assert ocr_corpus_worker.proc.poll() is None
    job = tj.wait_terminal(db, tj.submit(settings, db, make_pdf(1)))
    assert job.status == JobStatus.SUCCEEDED
    assert page_text(1) in tj.pages(db, job.id)[0][1]
