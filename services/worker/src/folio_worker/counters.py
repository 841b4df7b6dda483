"""The counters a worker process keeps about itself: memory, throughput, job durations.

:mod:`.pipeline` feeds them as parts and jobs finish; the heartbeat
(:class:`.middleware.Heartbeat`) publishes :meth:`WorkerCounters.report` to Redis through
:mod:`folio_common.worker_reports`, at once after a change and at least every beat. The
API turns the reports of live workers into Prometheus metrics, labelled by worker.
Counts are cumulative for the life of the process, like any Prometheus counter.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

from folio_common.jobs import Job
from folio_common.worker_reports import JobDurations, WorkerReport

#: Upper bounds (seconds) of the job duration histogram's buckets; +Inf is implied.
DURATION_BUCKETS = (0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0)
#: Seconds of history behind ``pages_per_s``.
RATE_WINDOW_S = 60.0
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss_bytes(pid: int | str = "self") -> int:
    """Resident memory of a process (0 when /proc cannot tell)."""
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * _PAGE_SIZE
    except (OSError, IndexError, ValueError):
        return 0


def descendants(pid: int | str = "self") -> list[int]:
    """Every process below ``pid`` (the extraction sandboxes and their fork server)."""
    found: list[int] = []
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return found
    for task in tasks:
        try:
            children = [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue
        for child in children:
            found += [child, *descendants(child)]
    return found


class _Histogram:
    def __init__(self) -> None:
        self.counts = [0] * (len(DURATION_BUCKETS) + 1)  # the last one is +Inf
        self.sum = 0.0

    def observe(self, value: float) -> None:
        index = next((i for i, b in enumerate(DURATION_BUCKETS) if value <= b), -1)
        self.counts[index] += 1
        self.sum += value

    def durations(self, engine: str, status: str) -> JobDurations:
        cumulative, running = [], 0
        for count in self.counts:
            running += count
            cumulative.append(running)
        return JobDurations(engine, status, tuple(cumulative), round(self.sum, 6), running)


class WorkerCounters:
    """Thread-safe counters of one worker process.

    Parameters:
      clock: monotonic seconds (tests pass a fake one).
    """

    def __init__(self, clock: Any = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._recent: deque[tuple[float, int]] = deque()
        self._pages: dict[str, int] = {}
        self._parts: dict[str, int] = {}
        self._jobs: dict[tuple[str, str], _Histogram] = {}
        self._ocr_pages = 0
        self._ocr_seconds = 0.0
        self._unread: dict[str, int] = {}
        self._changed = threading.Event()
        self._schema_problems: list[str] = []

    def part_done(self, engine: str, pages: int) -> None:
        """A part's pages were extracted and recorded."""
        with self._lock:
            self._recent.append((self._clock(), pages))
            self._pages[engine] = self._pages.get(engine, 0) + pages
            self._parts[engine] = self._parts.get(engine, 0) + 1
        self._changed.set()

    def page_ocr(self, seconds: float) -> None:
        """A page was rendered and read by Tesseract in ``seconds``."""
        with self._lock:
            self._ocr_pages += 1
            self._ocr_seconds += seconds
        self._changed.set()

    def page_unread(self, reason: str) -> None:
        """A page could not be read (``reason``: ``timeout``, ``memory_limit``...)."""
        with self._lock:
            self._unread[reason] = self._unread.get(reason, 0) + 1
        self._changed.set()

    def job_done(self, job: Job) -> None:
        """A job this process ended (succeeded or failed): its duration since first claim."""
        if job.started_at is None or job.finished_at is None:
            return
        seconds = max(0.0, (job.finished_at - job.started_at).total_seconds())
        with self._lock:
            self._jobs.setdefault((job.engine, job.status), _Histogram()).observe(seconds)
        self._changed.set()

    def set_schema_problems(self, problems: list[str]) -> None:
        """Why the schema guard holds this process (empty: it does not)."""
        with self._lock:
            changed = problems != self._schema_problems
            self._schema_problems = list(problems)
        if changed:
            self._changed.set()

    def take_changed(self) -> bool:
        """True once after each change: the beat then publishes without waiting."""
        changed = self._changed.is_set()
        self._changed.clear()
        return changed

    def pages_per_s(self) -> float:
        with self._lock:
            horizon = self._clock() - RATE_WINDOW_S
            while self._recent and self._recent[0][0] < horizon:
                self._recent.popleft()
            return sum(pages for _, pages in self._recent) / RATE_WINDOW_S

    def report(self) -> WorkerReport:
        """What the beat publishes: the counters now, with this process's memory."""
        rate = self.pages_per_s()
        with self._lock:
            return WorkerReport(
                pid=os.getpid(),
                at=round(time.time(), 3),
                rss_bytes=rss_bytes(),
                sandbox_rss_bytes=sum(rss_bytes(pid) for pid in descendants()),
                pages_per_s=round(rate, 4),
                pages=dict(self._pages),
                parts=dict(self._parts),
                duration_buckets=DURATION_BUCKETS,
                schema_problems=tuple(self._schema_problems),
                jobs=tuple(
                    histogram.durations(engine, status)
                    for (engine, status), histogram in sorted(self._jobs.items())
                ),
                ocr_pages=self._ocr_pages,
                ocr_seconds=round(self._ocr_seconds, 3),
                unread_pages=dict(self._unread),
            )
