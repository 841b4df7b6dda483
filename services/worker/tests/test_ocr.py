"""Which pages OCR reads, how large they are rendered, how a scan is cut into parts, how
OCR pages are recorded, and damaged files read by the engines: no Tesseract run here
(those are in test_ocr_worker.py, marked slow)."""

from __future__ import annotations

from pathlib import Path

import pikepdf
import pypdfium2 as pdfium
import pytest
from folio_common.database import Database
from folio_common.errors import ErrorCode, JobError
from folio_common.lifecycle import JobStatus, transitions
from folio_common.page_reads import PageRead, ReadMethod, summary
from folio_common.settings import Settings
from testsupport import jobs as tj
from testsupport import scans
from testsupport.lifecycle import BLOBS, claim, get, new_job, plan
from testsupport.pdfs import make_pdf

from folio_worker import extraction, ocr, planning
from folio_worker.tasks import FindOcrPagesTask, InspectTask


def write(tmp_path: Path, name: str, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def pages_for_ocr(path: str, mode: str, count: int) -> set[int]:
    with pikepdf.open(path) as pdf:
        return ocr.needs_ocr(mode, path, None, list(range(1, count + 1)), range(count), pdf)


def test_auto_picks_the_scanned_page_and_not_the_text_page(tmp_path: Path) -> None:
    path = write(tmp_path, "mixed.pdf", scans.mixed_pdf(["a text layer"], ["a scanned page"]))
    assert pages_for_ocr(path, "auto", 2) == {2}
    assert pages_for_ocr(path, "force", 2) == {1, 2}
    assert pages_for_ocr(path, "off", 2) == set()


def test_a_text_document_sends_no_page_to_ocr(tmp_path: Path) -> None:
    path = write(tmp_path, "text.pdf", make_pdf(3, lines=20))
    assert pages_for_ocr(path, "auto", 3) == set()


def test_a_find_task_on_a_split_part_uses_the_same_rule(tmp_path: Path) -> None:
    path = write(tmp_path, "mixed.pdf", scans.mixed_pdf(["a text layer"], ["a scanned page"]))
    task = FindOcrPagesTask(path, None, "auto", pages=(7, 8), indexes=(0, 1))
    assert task.run() == {8}


def test_a_huge_page_is_rendered_within_the_pixel_budget(tmp_path: Path) -> None:
    # 200 inches square: 60000 x 60000 px at 300 dpi, 3.6 gigapixels.
    path = write(tmp_path, "huge.pdf", scans.huge_page_pdf(200))
    document = pdfium.PdfDocument(path)
    page = document[0]
    width, height = ocr.render(page, dpi=300, max_pixels=1_000_000).size
    assert width * height <= 1_000_000 * 1.01 and min(width, height) > 900
    page.close()
    document.close()


def test_a_normal_page_is_rendered_at_the_asked_resolution(tmp_path: Path) -> None:
    path = write(tmp_path, "scan.pdf", scans.scanned_pdf([["one line"]], dpi=100))
    document = pdfium.PdfDocument(path)
    page = document[0]
    width, height = ocr.render(page, dpi=300, max_pixels=16_000_000).size
    assert width == 2550 and abs(height - 3300) <= 2  # letter size at 300 dpi
    page.close()
    document.close()


def test_ocr_pages_weigh_more_when_pages_are_cut_into_parts() -> None:
    pages = list(range(1, 21))
    assert planning.part_count(pages, 20) == 1
    scanned = planning.part_count(pages, 20, set(pages))
    assert scanned == 20 // (20 // planning.OCR_PAGE_WEIGHT)  # spread over many parts
    assert planning.part_count(pages, 20, {5}) == 2


def test_inspect_notes_the_ocr_pages_and_leaves_them_out_of_the_text(tmp_path: Path) -> None:
    path = write(tmp_path, "mixed.pdf", scans.mixed_pdf(["a text layer"], ["a scanned page"]))
    task = InspectTask(path, None, None, 100, 20, "pdfium", ocr="auto")
    planned = task.run()
    assert planned.ocr_pages == {2}
    assert planned.texts is not None and [n for n, _ in planned.texts] == [1]
    off = InspectTask(path, None, None, 100, 20, "pdfium", ocr="off").run()
    assert off.ocr_pages == set() and off.texts is not None and len(off.texts) == 2


def test_ocr_pages_are_recorded_one_by_one_and_count_once(db: Database, settings: Settings) -> None:
    job = claim(db, settings, new_job(db).id)
    assert job is not None
    plan(db, job, [[1, 2, 3]])
    read = {2: PageRead(ReadMethod.OCR, 91.5)}
    for _ in range(2):  # a page recorded twice counts once
        assert db.transaction(transitions.record_pages, job.id, [(2, "scanned")], read).value
        assert get(db, job.id).pages_done == 1
    unread = {3: PageRead(ReadMethod.NONE, reason="memory_limit")}
    pages = [(1, "text layer"), (2, "scanned"), (3, "")]
    done = db.transaction(
        transitions.record_part, BLOBS, settings, job.id, 0, pages, {**read, **unread}
    ).value
    assert done is not None and done.status == JobStatus.SUCCEEDED and done.pages_done == 3
    reads = tj.page_reads(db, job.id)
    assert reads[1] == PageRead() and reads[2] == read[2] and reads[3] == unread[3]
    assert summary(reads) == {
        "pages": [2],
        "mean_confidence": 91.5,
        "unread": [{"number": 3, "reason": "memory_limit"}],
    }
    # After the end nothing more is written.
    assert not db.transaction(transitions.record_pages, job.id, [(2, "late")], read).value


@pytest.mark.corpus
@pytest.mark.parametrize(
    ("name", "engine", "needle", "pages"),
    [
        ("pages-loop.pdf", "pdfminer", "Potato", 1),  # pikepdf refuses its page tree
        ("issue-202.pdf", "pdfminer", "", 10),  # pdfminer gives up; PDFium reads 10 pages
    ],
)
def test_a_damaged_file_is_read_by_an_engine(
    corpus: Path, name: str, engine: str, needle: str, pages: int
) -> None:
    task = InspectTask(str(corpus / name), None, None, 100, 20, engine)
    planned = task.run()
    assert planned.texts is not None and len(planned.texts) == pages
    text = "".join(t for _, t in planned.texts)
    assert needle in text and len(text.strip()) > (3000 if pages == 10 else 0)


@pytest.mark.corpus
@pytest.mark.parametrize("name", ["bug1020226.pdf", "REDHAT-1531897-0.pdf", "bad1.pdf"])
def test_a_file_no_engine_reads_still_fails_invalid(corpus: Path, name: str) -> None:
    task = InspectTask(str(corpus / name), None, None, 100, 20, "pdfminer")
    with pytest.raises(JobError) as caught:
        task.run()
    assert caught.value.code == ErrorCode.INVALID_PDF


def test_extract_falls_back_to_another_engine_only_for_an_unreadable_file(
    tmp_path: Path,
) -> None:
    garbage = write(tmp_path, "garbage.pdf", b"%PDF-1.4\nnothing here\n")
    with pytest.raises(JobError) as caught:
        extraction.extract(garbage, engine="pdfminer", password=None, pages=[1], indexes=[0])
    assert caught.value.code == ErrorCode.INVALID_PDF
    locked = write(tmp_path, "locked.pdf", make_pdf(1, password="pw"))
    with pytest.raises(JobError) as wrong:
        extraction.extract(locked, engine="pdfminer", password="nope", pages=[1], indexes=[0])
    assert wrong.value.code == ErrorCode.WRONG_PASSWORD


@pytest.mark.parametrize(
    ("scanned_at", "rendered_at"), [(72, 216), (100, 300), (150, 300), (300, 300)]
)
def test_a_coarse_scan_is_upscaled_by_a_whole_factor(
    tmp_path: Path, scanned_at: int, rendered_at: int
) -> None:
    path = write(tmp_path, "scan.pdf", scans.scanned_pdf([["one line"]], dpi=scanned_at))
    document = pdfium.PdfDocument(path)
    page = document[0]
    assert ocr.scan_dpi(page, 300) == pytest.approx(rendered_at, rel=0.01)
    page.close()
    document.close()


def test_deciding_never_inflates_a_content_bomb(tmp_path: Path) -> None:
    import zlib

    pdf = pikepdf.new()
    bomb = zlib.compress(b" " * 64 * 1024 * 1024, 9)  # 64 MiB of spaces in ~64 kB
    pdf.pages.append(
        pikepdf.Page(
            pikepdf.Dictionary(
                Type=pikepdf.Name.Page,
                MediaBox=[0, 0, 612, 792],
                Contents=pdf.make_stream(bomb, Filter=pikepdf.Name.FlateDecode),
            )
        )
    )
    assert len(ocr._content_head(pdf.pages[0])) == ocr.CONTENT_HEAD
    assert not ocr.has_images(pdf, 0)
