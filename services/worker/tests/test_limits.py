"""Hostile documents meet OS-enforced limits: the job fails with its code, the worker lives.

Each test runs a worker of its own with tight limits (no shared worker in this module).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable

import pikepdf
import pytest
from folio_common.database import Database
from folio_common.lifecycle import JobStatus
from folio_common.settings import Settings
from testsupport import jobs as tj
from testsupport.pdfs import make_endless_pdf, make_pdf
from testsupport.procs import Service

pytestmark = pytest.mark.slow  # a real worker process per test


def deflate_bomb(megabytes: int) -> bytes:
    """A one-page PDF whose content stream inflates to ``megabytes`` MB of spaces."""
    compressor = zlib.compressobj(9)
    block = b" " * (1024 * 1024)
    data = b"".join(compressor.compress(block) for _ in range(megabytes)) + compressor.flush()
    pdf = pikepdf.new()
    pdf.add_blank_page()
    stream = pikepdf.Stream(pdf, data)
    stream.Filter = pikepdf.Name.FlateDecode
    pdf.pages[0].Contents = pdf.make_indirect(stream)
    out = __import__("io").BytesIO()
    pdf.save(out, compress_streams=False, stream_decode_level=pikepdf.StreamDecodeLevel.none)
    return out.getvalue()


def test_too_many_pages_fails(
    settings: Settings, db: Database, worker_env: dict[str, str], workers: Callable[..., Service]
) -> None:
    workers({**worker_env, "MAX_PAGES": "5"})
    job_id = tj.submit(settings, db, make_pdf(6))
    job = tj.wait_terminal(db, job_id)
    assert (job.status, job.error_code, job.attempts) == (JobStatus.FAILED, "too_many_pages", 1)


def test_memory_bomb_fails_with_memory_limit_and_the_worker_survives(
    settings: Settings, db: Database, worker_env: dict[str, str], workers: Callable[..., Service]
) -> None:
    worker = workers({**worker_env, "JOB_MEMORY_LIMIT_MB": "600"})
    bomb = tj.submit(settings, db, deflate_bomb(900))
    job = tj.wait_terminal(db, bomb, timeout=90)
    assert (job.status, job.error_code) == (JobStatus.FAILED, "memory_limit")
    after = tj.submit(settings, db, make_pdf(2))
    assert tj.wait_terminal(db, after).status == JobStatus.SUCCEEDED
    assert worker.proc.poll() is None


def test_slow_extraction_fails_with_timeout_and_the_worker_survives(
    settings: Settings, db: Database, worker_env: dict[str, str], workers: Callable[..., Service]
) -> None:
    worker = workers({**worker_env, "JOB_TIME_LIMIT_S": "1"})
    # Its extraction never ends, so the limit is reached however fast the machine is.
    slow = tj.submit(settings, db, make_endless_pdf())
    job = tj.wait_terminal(db, slow, timeout=60)
    assert (job.status, job.error_code) == (JobStatus.FAILED, "timeout")
    after = tj.submit(settings, db, make_pdf(2))
    assert tj.wait_terminal(db, after).status == JobStatus.SUCCEEDED
    assert worker.proc.poll() is None
