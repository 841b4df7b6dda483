"""Pipeline overhead: documents through HTTP → database → broker → W worker processes,
against the same extraction called directly in W warm processes.

The ratio is throughput through Folio over direct throughput (1.0 = no overhead), each
side timed twice in alternating order (direct, Folio, Folio, direct) on an idle stack. Two
baselines: the documents whole, one task each (``direct``, what the brief asks for), and
the documents cut into the page ranges the worker itself would use (``chunked``), which
isolates the service's overhead from the parallelism that splitting buys.

Jobs go in with ``ocr=off``: the baselines read text layers only, and with OCR on
(``auto``, the default) the service would also OCR the corpus's few scanned pages, seconds
each, which is work the baselines never do, not overhead. ``bench.ocr`` measures OCR
through the service against Tesseract called directly.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from folio_common.settings import Settings

from . import direct
from .documents import benchmark_documents, read
from .harness import Stack, submit_all
from .report import Report

ENGINES = ("pdfminer", "pdfium")
#: Passes over the documents per engine: pdfium is ~30x faster, so it gets more to chew.
REPEAT = {"pdfminer": 1, "pdfium": 4}
TARGET_RATIO = 0.90


def _through_folio(stack: Stack, base: str, bodies: list[bytes], engine: str) -> tuple[float, int]:
    """(seconds from the first upload to the last job's end, failed jobs)."""
    started = time.time()
    ids = submit_all(base, bodies, engine=engine, ocr="off")
    finished, failed = stack.wait_finished(ids, timeout=600)
    return finished - started, failed


def run() -> Report:
    report = Report("pipeline overhead (throughput through Folio / direct extraction)")
    processes = Settings.from_env({}).worker_processes
    part_pages = Settings.from_env({}).part_pages
    with tempfile.TemporaryDirectory() as tmp:
        docs = benchmark_documents(Path(tmp))
        timings: dict[str, dict[str, float]] = {}
        with Stack("pipeline") as stack, direct.DirectPool(processes) as pool:
            _, base = stack.api()
            stack.worker(processes)
            warm_up = [read(d.path) for d in docs[:4]]
            submit_all(base, warm_up, engine="pdfium", ocr="off")
            for engine in ENGINES:
                whole = [direct.whole(d.path, d.pages, engine) for d in docs] * REPEAT[engine]
                chunks = [
                    task
                    for d in docs
                    for task in direct.chunked(d.path, d.pages, engine, part_pages)
                ] * REPEAT[engine]
                bodies = [read(d.path) for d in docs] * REPEAT[engine]

                # Alternating (direct, Folio, Folio, direct): this VM drifts from minute to
                # minute by more than the margins, so each side's time is a mean of two.
                direct_s = [pool.run(whole)]
                (folio_a, failed_a) = _through_folio(stack, base, bodies, engine)
                (folio_b, failed_b) = _through_folio(stack, base, bodies, engine)
                direct_s.append(pool.run(whole))
                timings[engine] = {
                    "direct": sum(direct_s) / 2,
                    "chunked": pool.run(chunks),
                    "folio": (folio_a + folio_b) / 2,
                    "failed": failed_a + failed_b,
                }
    pages = sum(d.pages for d in docs)
    report.figures["pipeline_documents"] = len(docs)
    report.figures["pipeline_pages"] = pages
    report.figures["pipeline_processes"] = processes
    for engine in ENGINES:
        t = timings[engine]
        total = pages * REPEAT[engine]
        ratio = t["direct"] / t["folio"]
        report.figures |= {
            f"pipeline_ratio_{engine}": round(ratio, 3),
            f"pipeline_ratio_chunked_{engine}": round(t["chunked"] / t["folio"], 3),
            f"pipeline_pages_per_s_{engine}": round(total / t["folio"], 1),
            f"pipeline_direct_pages_per_s_{engine}": round(total / t["direct"], 1),
            f"pipeline_failed_jobs_{engine}": int(t["failed"]),
        }
        docs_n = len(docs) * REPEAT[engine]
        report.row(
            f"{engine}: {docs_n} docs, {total} pages, W={processes}",
            f"{total / t['folio']:.1f} p/s",
            f"direct {total / t['direct']:.1f} p/s, chunked {total / t['chunked']:.1f} p/s",
        )
        report.row(
            f"{engine}: ratio vs direct (target ≥ {TARGET_RATIO})",
            ratio,
            f"vs chunked {t['chunked'] / t['folio']:.3g}",
        )
    source = "corpus files with expected_outcome ok" if docs[0].category != "generated" else ""
    report.notes.append(f"documents: {source or 'generated PDFs (no corpus)'}")
    return report
