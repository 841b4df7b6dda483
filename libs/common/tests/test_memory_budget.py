"""The worker's memory plan: the arithmetic, and reading the container's cgroup limit."""

from __future__ import annotations

from pathlib import Path

import pytest
from folio_common.memory_budget import (
    MASTER_MB,
    PROCESS_MB,
    SANDBOX_FLOOR_MB,
    USABLE_FRACTION,
    plan,
    read_memory_limit_mb,
)


def test_no_limit_keeps_the_requested_sandbox_limit() -> None:
    p = plan(None, processes=2, threads=2, requested_mb=1024)
    assert p.sandbox_limit_mb == 1024 and p.fits and not p.lowered


def test_a_roomy_container_keeps_the_requested_limit() -> None:
    p = plan(8192, processes=2, threads=2, requested_mb=1024)
    assert p.sandbox_limit_mb == 1024
    assert p.worst_case_mb <= 8192 * USABLE_FRACTION


@pytest.mark.parametrize(("processes", "threads"), [(1, 1), (1, 2), (2, 2), (1, 4)])
def test_lowered_limits_keep_the_worst_case_inside_the_container(
    processes: int, threads: int
) -> None:
    p = plan(2048, processes=processes, threads=threads, requested_mb=1024)
    assert p.base_mb == MASTER_MB + processes * PROCESS_MB
    assert p.worst_case_mb <= 2048 * USABLE_FRACTION
    assert p.fits


def test_the_issues_case_four_1_gb_sandboxes_in_1_gb_does_not_start() -> None:
    # 2 processes x 2 threads with JOB_MEMORY_LIMIT_MB=1024 is ~4 GB at worst.
    p = plan(1024, processes=2, threads=2, requested_mb=1024)
    assert not p.fits
    # One process with two threads fits, with smaller sandboxes.
    p = plan(1024, processes=1, threads=2, requested_mb=1024)
    assert p.fits and p.lowered
    assert SANDBOX_FLOOR_MB <= p.sandbox_limit_mb < 1024
    assert p.worst_case_mb <= 1024 * USABLE_FRACTION


def test_a_small_requested_limit_is_never_raised() -> None:
    p = plan(512, processes=1, threads=1, requested_mb=128)
    assert p.sandbox_limit_mb == 128 and p.fits and not p.lowered


def test_reads_cgroup_v2_v1_and_no_limit(tmp_path: Path) -> None:
    v2 = tmp_path / "memory.max"
    v1 = tmp_path / "memory.limit_in_bytes"
    v2.write_text("1073741824\n")
    assert read_memory_limit_mb((v2, v1)) == 1024
    v2.write_text("max\n")
    assert read_memory_limit_mb((v2, v1)) is None
    v1.write_text("536870912\n")
    assert read_memory_limit_mb((tmp_path / "absent", v1)) == 512
    v1.write_text("9223372036854771712\n")  # cgroup v1's "unlimited"
    assert read_memory_limit_mb((tmp_path / "absent", v1)) is None
    assert read_memory_limit_mb((tmp_path / "absent",)) is None
