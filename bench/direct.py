"""The extraction baseline: :func:`folio_worker.extraction.extract` called directly in a
pool of warm processes — no HTTP, no database, no broker, no sandbox."""

from __future__ import annotations

import logging
import multiprocessing
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

# The baseline is the worker's own extraction code, called without the service around it.
from folio_worker import extraction  # noqa: TID251

from testsupport.pdfs import make_pdf

#: (path, engine, 1-based page numbers) — one call of ``extract``.
Task = tuple[str, str, list[int]]


def _warm() -> None:
    """Imports done and both engines run once, as in a worker's sandbox after its first job."""
    logging.disable(logging.WARNING)  # pdfminer's per-font warnings are not the point
    with tempfile.NamedTemporaryFile(suffix=".pdf") as fh:
        fh.write(make_pdf(1))
        fh.flush()
        for engine in ("pdfminer", "pdfium"):
            extract((fh.name, engine, [1]))


def extract(task: Task) -> int:
    """Run one task; the number of characters extracted."""
    path, engine, pages = task
    texts = extraction.extract(
        path, engine=engine, password=None, pages=pages, indexes=[n - 1 for n in pages]
    )
    return sum(len(t) for _, t in texts)


def whole(path: Path, pages: int, engine: str) -> Task:
    return (str(path), engine, list(range(1, pages + 1)))


def chunked(path: Path, pages: int, engine: str, part_pages: int) -> list[Task]:
    """The same page ranges the worker would cut the document into."""
    numbers = list(range(1, pages + 1))
    return [(str(path), engine, numbers[i : i + part_pages]) for i in range(0, pages, part_pages)]


class DirectPool:
    """``processes`` warm processes; :meth:`run` times a batch of tasks on them.

    Tasks are handed out largest first (by page count), one at a time, which is the best
    a static pool can do with uneven documents.
    """

    def __init__(self, processes: int) -> None:
        self.processes = processes
        self._pool: Any = None

    def __enter__(self) -> DirectPool:
        ctx = multiprocessing.get_context("forkserver")
        self._pool = ctx.Pool(self.processes, initializer=_warm)
        self._pool.map(time.sleep, [0.2] * self.processes, chunksize=1)  # all started
        return self

    def __exit__(self, *exc: object) -> None:
        self._pool.terminate()
        self._pool.join()

    def run(self, tasks: Sequence[Task]) -> float:
        """Seconds to run every task."""
        ordered = sorted(tasks, key=lambda t: len(t[2]), reverse=True)
        start = time.perf_counter()
        for _ in self._pool.imap_unordered(extract, ordered, chunksize=1):
            pass
        return time.perf_counter() - start
