"""An idle worker: the CPU its whole process tree (master, worker processes, sandboxes)
uses over :data:`WINDOW_S` seconds with nothing to do, and how fast it still picks up a
job — consumers wait on their queue's doorbell (folio_common.doorbell), not a poll loop.
"""

from __future__ import annotations

import os
import time

import requests

from .documents import pdf_bytes
from .harness import Stack, submit
from .report import Report, median
from .rss import descendants

#: Seconds of idleness measured.
WINDOW_S = 60.0
PROCESSES = 2
TARGET_CPU_PCT = 2.0


def cpu_seconds(pids: list[int]) -> float:
    """utime + stime of ``pids`` (and their reaped children), from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(v) for v in fields[11:15])  # utime, stime, cutime, cstime
    return total / ticks


def run() -> Report:
    report = Report(f"idle worker: {PROCESSES} processes, {WINDOW_S:.0f} s with nothing to do")
    with Stack("idle") as stack, requests.Session() as session:
        _, base = stack.api()
        worker = stack.worker(PROCESSES)
        wakeups = []
        for _ in range(5):  # warm: sandboxes started, scripts loaded; then idle for a while
            time.sleep(2.0)
            started = time.perf_counter()
            submit(session, base, pdf_bytes(1), engine="pdfium", wait_s=10)
            wakeups.append((time.perf_counter() - started) * 1000)
        time.sleep(3.0)
        pids = descendants(worker.proc.pid)
        before, t0 = cpu_seconds(pids), time.monotonic()
        time.sleep(WINDOW_S)
        used, elapsed = cpu_seconds(pids) - before, time.monotonic() - t0
    pct = 100 * used / elapsed
    report.figures |= {
        "idle_worker_cpu_pct": round(pct, 2),
        "idle_worker_processes": PROCESSES,
        "idle_worker_wake_submit_p50_ms": round(median(wakeups), 1),
    }
    report.row(f"CPU of the idle worker tree (target < {TARGET_CPU_PCT} %)", f"{pct:.2f} %")
    report.row("1-page pdfium job after 2 s idle, POST wait p50", f"{median(wakeups):.1f} ms")
    return report
