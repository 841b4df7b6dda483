"""Source PDFs of split jobs, downloaded once per worker process and shared by its parts.

A split job's parts read their pages from the job's source (no part is copied into a
blob of its own), so every part would otherwise download the whole source. Instead the
first part a worker process runs for a job downloads it into the process's cache; the
process's other parts of that job — run by its other threads, or later — read the same
file. A file is deleted once no part holds it and more than :data:`KEEP_SOURCES` other
sources are cached; all of them go with the process.
"""

from __future__ import annotations

import contextlib
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

#: Sources kept after their last part finished here (a process works on few jobs at once).
KEEP_SOURCES = 4


@dataclass
class _Entry:
    path: Path
    lock: threading.Lock = field(default_factory=threading.Lock)
    ready: bool = False
    leases: int = 0


class SourceCache:
    """A worker process's downloaded sources, by job id.

    ``downloads`` counts the downloads made (what the cache saves is parts minus downloads).
    """

    def __init__(self, keep: int = KEEP_SOURCES) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="folio-sources-")
        self._keep = keep
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self.downloads = 0

    @contextlib.contextmanager
    def lease(self, job_id: str, fetch: Callable[[Path], None]) -> Iterator[Path]:
        """The job's source as a local file, downloaded with ``fetch(path)`` by the first
        caller (others wait for it); kept at least until the ``with`` block ends."""
        with self._lock:
            entry = self._entries.get(job_id)
            if entry is None:
                entry = _Entry(Path(self._dir.name) / f"{job_id}.pdf")
                self._entries[job_id] = entry
            self._entries.move_to_end(job_id)
            entry.leases += 1
        try:
            with entry.lock:
                if not entry.ready:
                    fetch(entry.path)  # a failure leaves it not ready: the next try fetches
                    entry.ready = True
                    with self._lock:
                        self.downloads += 1
            yield entry.path
        finally:
            with self._lock:
                entry.leases -= 1
                self._evict()

    def _evict(self) -> None:
        idle = [job for job, e in self._entries.items() if e.leases == 0]
        for job_id in idle[: max(0, len(idle) - self._keep)]:
            entry = self._entries.pop(job_id)
            entry.path.unlink(missing_ok=True)

    def close(self) -> None:
        self._dir.cleanup()
