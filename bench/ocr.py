"""OCR through the service against Tesseract called directly on the same pages.

A 20-page scan made from known text (300 dpi, image only) is read:

- directly: :func:`folio_worker.ocr.read_page` on each page in turn, in one warm process
  (render with PDFium, Tesseract through tesserocr): no HTTP, database, broker or sandbox;
- through the service, end to end (upload to ``finished_at``), with 1 worker process of
  1 thread (pages/s over the direct figure: the service's overhead, target ≥ 0.9), then
  with 2 processes (speedup over the direct process: the fan-out, target ≥ 1.7).
"""

from __future__ import annotations

import multiprocessing
import tempfile
import time
from pathlib import Path

import requests

# The baseline is the worker's own OCR code, called without the service around it.
from folio_worker import ocr  # noqa: TID251

from testsupport.scans import PROSE, scanned_pdf

from .harness import Stack, submit
from .report import Report

PAGES = 20
DPI = 300
MAX_PIXELS = 16_000_000
TARGET_RATIO = 0.9
TARGET_SPEEDUP = 1.7


def _document(path: Path) -> None:
    """PAGES pages of prose, each a little different (no two pages alike)."""
    pages = [
        [f"Page {n}."] + [PROSE[(n + k) % len(PROSE)] for k in range(24)] for n in range(PAGES)
    ]
    path.write_bytes(scanned_pdf(pages, dpi=DPI))


def _direct(path: str) -> float:
    """Seconds to read every page, after one page read to warm Tesseract up."""
    ocr.read_page(path, None, 1, 0, languages="eng", dpi=DPI, max_pixels=MAX_PIXELS)
    start = time.perf_counter()
    for index in range(PAGES):
        ocr.read_page(path, None, index + 1, index, languages="eng", dpi=DPI, max_pixels=MAX_PIXELS)
    return time.perf_counter() - start


def _through_service(stack: Stack, base: str, body: bytes) -> float:
    """Seconds from the start of the upload to the job's finished_at."""
    with requests.Session() as session:
        started = time.time()
        job_id = submit(session, base, body, engine="pdfium")["id"]
    finished, failed = stack.wait_finished([job_id], timeout=1200)
    if failed:
        raise RuntimeError("the scanned document failed")
    return finished - started


def run() -> Report:
    report = Report(f"OCR ({PAGES}-page 300-dpi scan, end to end vs Tesseract directly)")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "scan.pdf"
        _document(path)
        body = path.read_bytes()
        with multiprocessing.get_context("forkserver").Pool(1) as pool:
            direct_s = pool.apply(_direct, (str(path),))
        runs: dict[int, float] = {}
        with Stack("ocr") as stack:
            _, base = stack.api()
            for processes in (1, 2):
                worker = stack.worker(processes, WORKER_THREADS="1", JOB_TIME_LIMIT_S="300")
                with requests.Session() as session:  # warm-up: one small scan through it all
                    warm = scanned_pdf([[PROSE[0]]], dpi=DPI)
                    submit(session, base, warm, engine="pdfium", wait_s=60)
                runs[processes] = _through_service(stack, base, body)
                stack.stop(worker)
    direct_rate = PAGES / direct_s
    ratio = (PAGES / runs[1]) / direct_rate
    speedup = direct_s / runs[2]
    report.figures |= {
        "ocr_pages": PAGES,
        "ocr_direct_pages_per_s": round(direct_rate, 3),
        "ocr_service_pages_per_s_1proc": round(PAGES / runs[1], 3),
        "ocr_service_over_direct": round(ratio, 3),
        "ocr_speedup_2proc": round(speedup, 3),
    }
    report.row(f"direct, 1 process, {PAGES} pages", f"{direct_s:.1f} s", "(baseline)")
    report.row("service, 1 process x 1 thread", f"{runs[1]:.1f} s")
    report.row("service pages/s over direct", ratio, f"≥ {TARGET_RATIO}")
    report.row("service, 2 processes", f"{runs[2]:.1f} s")
    report.row("speedup, 2 processes over direct", speedup, f"≥ {TARGET_SPEEDUP}")
    return report
