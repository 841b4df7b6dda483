"""The quota usage cache: a key far below its limits is allowed on a recent figure; near a
limit, or once the figure is old, the caller must read it afresh."""

from __future__ import annotations

import time

from folio_common.quotas import Usage, UsageCache, far_below


def test_a_stored_figure_is_recent_until_it_is_old() -> None:
    cache = UsageCache(fresh_s=0.05)
    assert cache.recent("alice") is None
    cache.store("alice", Usage(in_flight=3, stored_bytes=100))
    assert cache.recent("alice") == Usage(3, 100)
    assert cache.recent("bob") is None
    time.sleep(0.06)
    assert cache.recent("alice") is None


def test_uploads_accepted_since_the_read_are_counted() -> None:
    cache = UsageCache()
    cache.accepted("alice", 500)  # nothing read yet: nothing to add to
    assert cache.recent("alice") is None
    cache.store("alice", Usage(in_flight=1, stored_bytes=1000))
    cache.accepted("alice", 500)
    cache.accepted("alice", 250)
    assert cache.recent("alice") == Usage(in_flight=3, stored_bytes=1750)


def test_only_half_of_each_limit_may_be_used_on_a_cached_figure() -> None:
    assert far_below(Usage(4, 0), 0, max_jobs=10, max_bytes=0)  # 5 of 10 after this one
    assert not far_below(Usage(5, 0), 0, max_jobs=10, max_bytes=0)
    assert far_below(Usage(0, 400), 100, max_jobs=0, max_bytes=1000)
    assert not far_below(Usage(0, 400), 101, max_jobs=0, max_bytes=1000)
    assert far_below(Usage(10**6, 10**12), 10**9, max_jobs=0, max_bytes=0)  # limits off
    assert not far_below(Usage(0, 0), 0, max_jobs=1, max_bytes=0)  # a limit of 1: always read
