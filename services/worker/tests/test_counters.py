"""The counters a worker process reports through its heartbeat (folio_worker.counters)."""

from __future__ import annotations

import dataclasses
import os
from datetime import UTC, datetime, timedelta

from folio_common import jobs
from folio_common.lifecycle import JobStatus
from folio_common.worker_reports import WorkerReport

from folio_worker.counters import DURATION_BUCKETS, RATE_WINDOW_S, WorkerCounters, rss_bytes


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def finished_job(seconds: float, status: str = JobStatus.SUCCEEDED, engine: str = "pdfminer"):
    start = datetime(2026, 1, 1, tzinfo=UTC)
    fields = {f.name: None for f in dataclasses.fields(jobs.Job)}
    fields.update(
        status=status,
        engine=engine,
        started_at=start,
        finished_at=start + timedelta(seconds=seconds),
    )
    return jobs.Job(**fields)


def test_pages_per_second_covers_the_last_window_only():
    clock = Clock()
    stats = WorkerCounters(clock)
    stats.part_done("pdfminer", 30)
    clock.now += RATE_WINDOW_S / 2
    stats.part_done("pdfium", 30)
    assert stats.pages_per_s() == 60 / RATE_WINDOW_S
    clock.now += RATE_WINDOW_S / 2 + 1
    assert stats.pages_per_s() == 30 / RATE_WINDOW_S
    report = stats.report()
    assert report.pages == {"pdfminer": 30, "pdfium": 30}  # totals never shrink
    assert report.parts == {"pdfminer": 1, "pdfium": 1}


def test_job_durations_are_cumulative_histograms_by_engine_and_status():
    stats = WorkerCounters()
    for seconds in (0.2, 3.0, 4000.0):
        stats.job_done(finished_job(seconds))
    stats.job_done(finished_job(1.0, status=JobStatus.FAILED))
    report = stats.report()
    assert report.duration_buckets == DURATION_BUCKETS
    succeeded, failed = sorted(report.jobs, key=lambda j: j.status, reverse=True)
    assert (succeeded.engine, succeeded.status) == ("pdfminer", "succeeded")
    assert succeeded.buckets[0] == 1  # ≤ 0.5 s
    assert succeeded.buckets[-2] == 2  # ≤ the largest bound
    assert succeeded.buckets[-1] == succeeded.count == 3  # +Inf
    assert succeeded.sum_s == 4003.2
    assert failed.count == 1


def test_changes_are_flagged_once_for_the_beat():
    stats = WorkerCounters()
    assert not stats.take_changed()
    stats.part_done("pdfminer", 1)
    assert stats.take_changed()
    assert not stats.take_changed()


def test_memory_is_read_from_proc():
    report = WorkerCounters().report()
    assert report.pid == os.getpid()
    assert report.rss_bytes == rss_bytes() > 1_000_000
    assert report.sandbox_rss_bytes >= 0


def test_a_report_survives_its_trip_through_json_unchanged():
    stats = WorkerCounters()
    stats.part_done("pdfium", 7)
    stats.job_done(finished_job(2.0, engine="pdfium"))
    report = stats.report()
    assert WorkerReport.from_json(report.to_json()) == report
