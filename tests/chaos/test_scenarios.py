"""The invariants under faults: whatever dies, every accepted job ends, each page once.

Each scenario submits a few hundred jobs of mixed sizes (1-3 pages, and 30-60 pages split
into parts of 10), injects its fault while they are in flight, then checks every accepted
job: terminal within the bound, none lost, ``pages_done == page rows == pages_total`` and
``parts_done == parts_total`` for every success, no HTTP 500, no secret in any log line.
"""

from __future__ import annotations

import time

import pytest

from testsupport.cluster import every

pytestmark = pytest.mark.slow  # a cluster of real API and worker processes

#: Jobs per scenario.
JOBS = 160


#: Faults per worker scenario, and the seconds a worker works between two of them.
FAULTS = 3
WORK_S = 5.0


def test_worker_sigkill(scenario):
    """The platform kills the worker container (SIGKILL to every process) and starts
    another, three times while jobs are in flight."""
    s = scenario()
    cluster, load = s.start()
    started = time.monotonic()
    submitting = load.start(JOBS, duration_s=15)
    for _ in range(FAULTS):
        time.sleep(WORK_S)
        cluster.kill_worker()
    submitting.join()
    s.finish(load, started=started)


def test_worker_sigterm_redeploy(scenario):
    """A redeploy: the new worker starts, the old one gets SIGTERM and drains, three times."""
    s = scenario()
    cluster, load = s.start()
    started = time.monotonic()
    submitting = load.start(JOBS, duration_s=15)
    draining = []
    for _ in range(FAULTS):
        time.sleep(WORK_S)
        draining.append(cluster.redeploy_worker())
    submitting.join()
    for old in draining:
        old.join(90)
    s.finish(load, started=started)


def test_redis_restart(scenario):
    s = scenario()
    _cluster, load = s.start()
    started = time.monotonic()
    submitting = load.start(JOBS, duration_s=15)
    time.sleep(5)
    s.redis.restart(down_s=1)
    time.sleep(6)
    s.redis.restart(down_s=1)
    submitting.join()
    s.finish(load, started=started)


def test_redis_down_30s_during_submissions(scenario):
    s = scenario()
    _cluster, load = s.start()
    started = time.monotonic()
    submitting = load.start(JOBS, duration_s=40)
    time.sleep(4)
    s.redis.stop()
    time.sleep(30)
    s.redis.start()
    submitting.join()
    s.finish(load, started=started)


def test_postgres_restart(scenario):
    s = scenario()
    _cluster, load = s.start()
    started = time.monotonic()
    submitting = load.start(JOBS, duration_s=15)
    time.sleep(5)
    s.pg.restart("immediate", down_s=2)
    time.sleep(5)
    s.pg.restart("fast", down_s=1)
    submitting.join()
    s.finish(load, started=started)


def test_pg_terminate_backend(scenario):
    s = scenario()
    _cluster, load = s.start()
    started = time.monotonic()
    with every(2.0, lambda: s.pg.terminate_backends(s.database)) as killed:
        load.run(JOBS, duration_s=15)
        time.sleep(6)
    assert sum(k for k in killed if isinstance(k, int)) > 0, killed
    s.finish(load, started=started)


def test_pool_exhaustion_300_clients(scenario):
    s = scenario()
    _cluster, load = s.start(DB_POOL_SIZE="2", DB_MAX_OVERFLOW="0", DB_POOL_TIMEOUT="1")
    load.clients = 300
    started = time.monotonic()
    load.run(300)  # all at once: 300 requests in flight against 2 connections per process
    s.finish(load, started=started)
