"""OCR through Tesseract: accuracy on generated scans, and scanned pages through a real
worker (auto, force, off; a page over the memory limit; a scan spread over parts)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from folio_common import worker_reports
from folio_common.database import Database
from folio_common.lifecycle import JobStatus
from folio_common.page_reads import PageRead, ReadMethod
from folio_common.redis_client import create_redis
from folio_common.settings import Settings
from testsupport import jobs as tj
from testsupport import scans
from testsupport.pdfs import make_pdf, page_text
from testsupport.procs import Service, start_worker, wait_until

from folio_worker import ocr, planning

pytestmark = pytest.mark.slow


def test_generated_clean_300_dpi_pages_read_with_under_2_percent_errors(tmp_path: Path) -> None:
    pages = [list(scans.PROSE), list(reversed(scans.PROSE))]
    path = tmp_path / "scan.pdf"
    path.write_bytes(scans.scanned_pdf(pages, dpi=300))
    for index, lines in enumerate(pages):
        read = ocr.read_page(
            str(path), None, index + 1, index, languages="eng", dpi=300, max_pixels=16_000_000
        )
        rate = scans.char_error_rate("\n".join(lines), read.text)
        assert rate <= 0.02, (rate, read.text)
        assert read.confidence is not None and read.confidence > 80


@pytest.fixture(scope="module")
def ocr_worker(
    worker_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    # A pixel budget above what the memory limit allows, so a huge page runs out of memory.
    env = {
        **worker_env,
        "JOB_TIME_LIMIT_S": "60",
        "JOB_MEMORY_LIMIT_MB": "768",
        "OCR_MAX_MEGAPIXELS": "2000",
    }
    service = start_worker(env, tmp_path_factory.mktemp("ocr"))
    yield service
    service.stop()


def finished(db: Database, job_id: str) -> tuple[list[tuple[int, str, int]], dict[int, PageRead]]:
    job = tj.wait_terminal(db, job_id, timeout=240)
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    return tj.recorded(db, job_id)


def test_auto_reads_the_scanned_page_and_keeps_the_text_layer(
    settings: Settings, db: Database, ocr_worker: Service
) -> None:
    pdf = scans.mixed_pdf(["Hello from the text layer"], ["Scanned words are read here"])
    pages, reads = finished(db, tj.submit(settings, db, pdf, engine="pdfium"))
    assert "Hello from the text layer" in pages[0][1] and reads[1].method == ReadMethod.TEXT
    assert "Scanned words are read here" in " ".join(pages[1][1].split())
    assert reads[2].method == ReadMethod.OCR and (reads[2].confidence or 0) > 80


def test_off_leaves_a_scanned_page_as_today(
    settings: Settings, db: Database, ocr_worker: Service
) -> None:
    pdf = scans.mixed_pdf(["Hello from the text layer"], ["Scanned words are read here"])
    pages, reads = finished(db, tj.submit(settings, db, pdf, ocr="off"))
    assert pages[1][1].strip() == ""
    assert {r.method for r in reads.values()} == {ReadMethod.TEXT}


def test_force_reads_a_text_page_by_ocr(
    settings: Settings, db: Database, ocr_worker: Service
) -> None:
    pages, reads = finished(db, tj.submit(settings, db, make_pdf(1), ocr="force"))
    assert page_text(1) in " ".join(pages[0][1].split())
    assert reads[1].method == ReadMethod.OCR


def test_a_page_over_the_memory_limit_is_unread_and_the_others_succeed(
    settings: Settings, db: Database, ocr_worker: Service
) -> None:
    import io

    import pikepdf

    pdf = pikepdf.open(io.BytesIO(make_pdf(1)))
    # 150 inches at 200 dpi: a 900-megapixel render, within the pixel budget, over memory.
    pdf.pages.extend(pikepdf.open(io.BytesIO(scans.huge_page_pdf(150, 30000))).pages)
    out = io.BytesIO()
    pdf.save(out)
    pages, reads = finished(db, tj.submit(settings, db, out.getvalue()))
    assert page_text(1) in pages[0][1]
    assert reads[2] == PageRead(ReadMethod.NONE, reason="memory_limit")
    # The worker lives on and serves the next job; its report counts the unread page.
    assert ocr_worker.proc.poll() is None
    finished(db, tj.submit(settings, db, make_pdf(2)))
    client = create_redis(settings)
    wait_until(
        lambda: any(
            r.unread_pages.get("memory_limit", 0) >= 1 and r.ocr_pages >= 1
            for r in worker_reports.read(client, settings).values()
        ),
        timeout=30,
    )


def test_a_scan_is_spread_over_parts_and_read_page_by_page(
    settings: Settings, db: Database, ocr_worker: Service
) -> None:
    lines = [[f"Scanned page number {n} of four"] for n in range(1, 5)]
    job_id = tj.submit(settings, db, scans.scanned_pdf(lines, dpi=150))
    pages, reads = finished(db, job_id)
    job = tj.wait_terminal(db, job_id)
    # PART_PAGES=10 and an OCR page weighs OCR_PAGE_WEIGHT: two scanned pages per part.
    assert job.parts_total == 4 // (10 // planning.OCR_PAGE_WEIGHT) and job.pages_done == 4
    for n, text, _ in pages:
        assert f"Scanned page number {n} of four" in " ".join(text.split())
        assert reads[n].method == ReadMethod.OCR


def test_a_scan_spreads_over_the_worker_processes(
    settings: Settings,
    db: Database,
    worker_env: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    # A namespace of its own: no other worker of this module may take the parts.
    env = {
        **worker_env,
        "REDIS_NAMESPACE": worker_env["REDIS_NAMESPACE"] + "-two",
        "WORKER_PROCESSES": "2",
        "WORKER_THREADS": "1",
        "JOB_TIME_LIMIT_S": "60",
    }
    two = Settings.from_env(env)
    service = start_worker(env, tmp_path_factory.mktemp("ocr-two"))
    try:
        client = create_redis(two)
        lines = [[f"Page {n} of a scan spread over processes"] for n in range(1, 7)]
        finished(db, tj.submit(two, db, scans.scanned_pdf(lines, dpi=150)))

        def readers() -> set[int]:
            return {r.pid for r in worker_reports.read(client, two).values() if r.ocr_pages}

        # Six one-page parts (PART_PAGES=10): both processes read some of them.
        wait_until(lambda: len(readers()) == 2, timeout=30)
    finally:
        service.stop()
