"""A big document end to end: split into parts, fanned out, extracted by W processes.

Baseline: the whole document extracted directly in one process. Reported: the speedup
with 2 worker processes, the scaling curve for 1, 2 and 4 processes, and the part size
(``PART_PAGES``) that finishes soonest with 2 processes.

This VM's speed drifts by ±15-30 % from minute to minute, more than the margins measured
here, so the headline speedup is taken over summed times of two rounds in alternating
order (direct, Folio, Folio, direct), as ``../shared/peers/bench`` does.

Jobs go in with ``ocr=off``, the engine settings of the baseline, which reads text layers
only (as in :mod:`bench.pipeline`). The default, ``auto``, also looks for scanned pages
before cutting the document (0.15-0.2 s on this one, which has none): one more 2-process
run reports it.
"""

from __future__ import annotations

import functools
import tempfile
import time
from pathlib import Path

import requests

from testsupport import procs

from . import direct
from .documents import big_document, pdf_bytes, read
from .harness import Stack, submit
from .report import Report
from .rss import RssSampler, worker_groups

ENGINE = "pdfminer"
MIN_PAGES = 300
PROCESS_COUNTS = (1, 2, 4)
PART_SIZES = (10, 20, 40)
#: Part size of the scaling curve: the shipped default.
DEFAULT_PART_PAGES = 20
TARGET_SPEEDUP = 1.7


def _end_to_end(stack: Stack, base: str, body: bytes, engine: str, ocr: str = "off") -> float:
    """Seconds from the start of the upload to the job's finished_at."""
    with requests.Session() as session:
        started = time.time()
        job_id = submit(session, base, body, engine=engine, ocr=ocr)["id"]
    finished, failed = stack.wait_finished([job_id], timeout=600)
    if failed:
        raise RuntimeError(f"the big document failed with {engine}")
    return finished - started


def _warm_worker(stack: Stack, base: str, processes: int, part_pages: int) -> procs.Service:
    """A worker of ``processes`` with ``PART_PAGES=part_pages``, one small job through it."""
    worker = stack.worker(processes, PART_PAGES=str(part_pages))
    with requests.Session() as session:
        submit(session, base, pdf_bytes(1), engine=ENGINE, wait_s=30)
    return worker


def run() -> Report:
    report = Report(f"big document ({ENGINE}, end to end vs one direct extraction)")
    with tempfile.TemporaryDirectory() as tmp:
        doc = big_document(Path(tmp) / "big.pdf", MIN_PAGES)
        body = read(doc.path)
        task = direct.whole(doc.path, doc.pages, ENGINE)
        runs: dict[tuple[int, int, str], float] = {}
        peak_mb = 0.0
        with Stack("bigdoc") as stack, direct.DirectPool(1) as pool:
            _, base = stack.api()

            def folio(processes: int, part_pages: int, ocr: str = "off") -> float:
                worker = _warm_worker(stack, base, processes, part_pages)
                try:
                    return _end_to_end(stack, base, body, ENGINE, ocr)
                finally:
                    stack.stop(worker)

            # The headline pair, alternating: direct, Folio, Folio, direct (idle stack).
            t_direct = [pool.run([task])]
            t_folio = [folio(2, DEFAULT_PART_PAGES), folio(2, DEFAULT_PART_PAGES)]
            t_direct.append(pool.run([task]))
            t1 = sum(t_direct) / len(t_direct)
            runs[2, DEFAULT_PART_PAGES, ENGINE] = sum(t_folio) / len(t_folio)
            configs = [(w, DEFAULT_PART_PAGES) for w in PROCESS_COUNTS if w != 2]
            configs += [(2, p) for p in PART_SIZES if p != DEFAULT_PART_PAGES]
            for processes, part_pages in configs:
                runs[processes, part_pages, ENGINE] = folio(processes, part_pages)
            ocr_auto = folio(2, DEFAULT_PART_PAGES, "auto")
            # Memory in a run of its own: sampling /proc every 50 ms takes about a third of
            # a core, which would slow the timed runs above (measured: 10.3 s against 8.6 s).
            worker = _warm_worker(stack, base, 2, DEFAULT_PART_PAGES)
            with RssSampler(functools.partial(worker_groups, worker)) as sampler:
                _end_to_end(stack, base, body, ENGINE)
            peak_mb = max(v for k, v in sampler.peak_sum.items() if k != "master")
            stack.stop(worker)
    speedup = t1 / runs[2, DEFAULT_PART_PAGES, ENGINE]
    report.figures |= {
        "bigdoc_pages": doc.pages,
        "bigdoc_engine": ENGINE,
        "bigdoc_direct_s": round(t1, 2),
        "bigdoc_rounds_s": {
            "direct": [round(t, 2) for t in t_direct],
            "folio_2proc": [round(t, 2) for t in t_folio],
        },
        "bigdoc_speedup_2proc": round(speedup, 3),
        "bigdoc_scaling": {
            str(w): round(t1 / runs[w, DEFAULT_PART_PAGES, ENGINE], 3) for w in PROCESS_COUNTS
        },
        "bigdoc_part_pages_seconds_2proc": {
            str(p): round(runs[2, p, ENGINE], 2) for p in PART_SIZES
        },
        "bigdoc_best_part_pages": min(PART_SIZES, key=lambda p: runs[2, p, ENGINE]),
        "bigdoc_ocr_auto_seconds_2proc": round(ocr_auto, 2),
        "worker_rss_mb_bigdoc_pdfminer": round(peak_mb, 1),
    }
    report.row(
        f"direct, 1 process, {doc.pages} pages (mean of 2)",
        f"{t1:.1f} s",
        " / ".join(f"{t:.1f}" for t in t_direct),
    )
    for w in PROCESS_COUNTS:
        t = runs[w, DEFAULT_PART_PAGES, ENGINE]
        report.row(
            f"Folio, {w} process(es), PART_PAGES={DEFAULT_PART_PAGES}"
            + (" (mean of 2)" if w == 2 else ""),
            f"{t:.1f} s",
            f"speedup {t1 / t:.2f}x",
        )
    for p in PART_SIZES:
        report.row(f"Folio, 2 processes, PART_PAGES={p}", f"{runs[2, p, ENGINE]:.1f} s", "")
    report.row(
        f"Folio, 2 processes, PART_PAGES={DEFAULT_PART_PAGES}, ocr=auto (the default)",
        f"{ocr_auto:.1f} s",
        f"speedup {t1 / ocr_auto:.2f}x",
    )
    report.row(f"speedup with 2 processes (target ≥ {TARGET_SPEEDUP})", speedup, "")
    report.row("peak RSS of one worker process tree (pdfminer)", f"{peak_mb:.0f} MB", "")
    return report
