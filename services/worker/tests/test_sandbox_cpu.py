"""The sandbox's CPU-time limit applies to each task, not to the sandbox's whole life: a
sandbox that has read many OCR pages must not kill the next one for the CPU its
predecessors used."""

from __future__ import annotations

import pytest
from testsupport.sandbox_tasks import BurnTask

from folio_worker.sandbox import Sandbox

pytestmark = pytest.mark.slow


def test_each_task_gets_its_own_cpu_budget() -> None:
    # A 1 s wall limit gives a CPU limit of 3 s; each task may run 60 s of wall time.
    box = Sandbox(memory_limit_mb=1024, time_limit_s=1, max_tasks=10)
    try:
        used = [box.run(BurnTask(1.6), time_limit_s=60) for _ in range(3)]
        assert used[-1] > 4.5  # past the 3 s a whole-life limit would have allowed
    finally:
        box.close()
