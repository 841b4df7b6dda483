"""A worker process downloads a split job's source once for all the parts it runs."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from folio_worker.sources import SourceCache


def test_parts_of_one_job_share_one_download_even_at_once() -> None:
    cache = SourceCache()
    started = threading.Barrier(4)
    seen: list[bytes] = []

    def fetch(path: Path) -> None:
        path.write_bytes(b"%PDF-source")

    def part() -> None:
        started.wait()
        with cache.lease("job-1", fetch) as path:
            seen.append(path.read_bytes())

    threads = [threading.Thread(target=part) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == [b"%PDF-source"] * 4 and cache.downloads == 1
    with cache.lease("job-1", fetch):
        pass
    assert cache.downloads == 1
    cache.close()


def test_a_failed_download_is_tried_again_by_the_next_part() -> None:
    cache = SourceCache()

    def broken(path: Path) -> None:
        raise ConnectionError("dropped")

    with pytest.raises(ConnectionError), cache.lease("job-1", broken):
        pass
    with cache.lease("job-1", lambda p: p.write_bytes(b"ok")) as path:
        assert path.read_bytes() == b"ok"
    assert cache.downloads == 1
    cache.close()


def test_idle_sources_beyond_the_kept_few_are_deleted_held_ones_never() -> None:
    cache = SourceCache(keep=1)
    paths = {}
    with cache.lease("held", lambda p: p.write_bytes(b"h")) as held:
        for job in ("a", "b", "c"):
            with cache.lease(job, lambda p: p.write_bytes(b"x")) as path:
                paths[job] = path
        assert held.exists()
        assert not paths["a"].exists() and not paths["b"].exists() and paths["c"].exists()
    cache.close()
