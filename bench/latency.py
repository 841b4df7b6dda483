"""Latency of a small job: ``POST`` a 1-page PDF with ``Prefer: wait=10``, then ``GET`` its
result — what a synchronous-feeling client sees. Baseline: extracting the same file
directly in this (warm) process."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import requests

from . import direct
from .documents import one_page_pdf, read
from .harness import AUTH, Stack, submit
from .report import Report, median, percentile

RUNS = 50
WARMUP = 5
ENGINES = ("pdfium", "pdfminer")
TARGET_P50_MS = {"pdfium": 40, "pdfminer": 55}


def _one(session: requests.Session, base: str, body: bytes, engine: str) -> tuple[float, float]:
    """(ms until the POST answered with the finished job, ms until the result was read)."""
    started = time.perf_counter()
    job = submit(session, base, body, engine=engine, wait_s=10)
    posted = time.perf_counter()
    if job["status"] != "succeeded":
        raise RuntimeError(f"job not finished within its wait: {job['status']}")
    resp = session.get(f"{base}/api/v1/jobs/{job['id']}/result", headers=AUTH, timeout=30)
    resp.raise_for_status()
    done = time.perf_counter()
    return (posted - started) * 1000, (done - started) * 1000


def run() -> Report:
    report = Report(f"latency: 1-page PDF, POST wait=10 + GET result, {RUNS} runs")
    with tempfile.TemporaryDirectory() as tmp:
        doc = one_page_pdf(Path(tmp))
        body = read(doc.path)
        baseline: dict[str, float] = {}
        direct._warm()
        for engine in ENGINES:
            task = direct.whole(doc.path, 1, engine)
            times = []
            for _ in range(RUNS):
                t0 = time.perf_counter()
                direct.extract(task)
                times.append((time.perf_counter() - t0) * 1000)
            baseline[engine] = median(times)
        with Stack("latency") as stack, requests.Session() as session:
            _, base = stack.api()
            stack.worker(2)
            for engine in ENGINES:
                for _ in range(WARMUP):
                    _one(session, base, body, engine)
                samples = [_one(session, base, body, engine) for _ in range(RUNS)]
                post = [s[0] for s in samples]
                total = [s[1] for s in samples]
                p50, p99 = percentile(total, 50), percentile(total, 99)
                report.figures |= {
                    f"latency_p50_ms_{engine}": round(p50, 1),
                    f"latency_p99_ms_{engine}": round(percentile(total, 99), 1),
                    f"latency_post_p50_ms_{engine}": round(percentile(post, 50), 1),
                    f"latency_direct_ms_{engine}": round(baseline[engine], 2),
                }
                report.row(
                    f"{engine}: p50 (target < {TARGET_P50_MS[engine]} ms)",
                    f"{p50:.1f} ms",
                    f"direct {baseline[engine]:.2f} ms",
                )
                report.row(f"{engine}: p99", f"{p99:.1f} ms", "")
                report.row(
                    f"{engine}: POST-with-wait alone, p50", f"{percentile(post, 50):.1f} ms", ""
                )
    report.notes.append(f"document: {doc.name}; worker: 2 processes x 2 threads")
    return report
