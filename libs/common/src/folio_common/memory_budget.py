"""A worker replica's memory, planned from its container's limit.

The worst case of a worker replica is the Dramatiq master, and per worker process its
interpreter, multiprocessing's resource tracker and the sandboxes' fork server, plus
every sandbox (one per thread) at its ``RLIMIT_AS`` (which bounds its resident size).
When the container's ``memory.max`` cannot hold that with ``JOB_MEMORY_LIMIT_MB`` per
sandbox, the sandboxes get less, so a decompression bomb fails its own job with
``memory_limit`` instead of the kernel OOM-killing the container and every job beside it.
When even the smallest workable sandbox does not fit, the worker refuses to start.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

#: Resident MB of the idle Dramatiq master (measured: 61 MB; docs/performance.md).
MASTER_MB = 64
#: Resident MB each idle worker process adds: itself 66, the resource tracker 12, the
#: sandboxes' fork server 77 (measured, WORKER_THREADS=2, rounded up).
PROCESS_MB = 160
#: Smallest address space (MB) a sandbox can do real work in: idle it maps ~100 MB
#: (interpreter, pdfminer, pikepdf, pypdfium2), and parsing an ordinary page needs more.
SANDBOX_FLOOR_MB = 256
#: Share of ``memory.max`` the worst case may use; the rest is the kernel's and page cache.
USABLE_FRACTION = 0.9
#: Where cgroup v2 (then v1) publishes the container's memory limit.
CGROUP_FILES = (
    Path("/sys/fs/cgroup/memory.max"),
    Path("/sys/fs/cgroup/memory/memory.limit_in_bytes"),
)
#: cgroup v1 reports "no limit" as a huge number; anything above this is no limit.
NO_LIMIT_BYTES = 1 << 60


def read_memory_limit_mb(files: tuple[Path, ...] = CGROUP_FILES) -> int | None:
    """The container's memory limit in MB, or None when it has none (or none is readable)."""
    for path in files:
        try:
            raw = path.read_text().strip()
        except OSError:
            continue
        if raw == "max":
            return None
        try:
            limit = int(raw)
        except ValueError:
            continue
        return None if limit >= NO_LIMIT_BYTES else limit // (1024 * 1024)
    return None


@dataclass(frozen=True)
class MemoryPlan:
    """What a worker replica's memory holds at worst.

    Parameters:
      limit_mb: the container's limit (None: no limit).
      base_mb: the master and the worker processes, idle.
      sandboxes: how many sandboxes run at once (processes x threads).
      sandbox_limit_mb: each sandbox's ``RLIMIT_AS`` under this plan.
      requested_mb: ``JOB_MEMORY_LIMIT_MB``.
    """

    limit_mb: int | None
    base_mb: int
    sandboxes: int
    sandbox_limit_mb: int
    requested_mb: int

    @property
    def worst_case_mb(self) -> int:
        return self.base_mb + self.sandboxes * self.sandbox_limit_mb

    @property
    def fits(self) -> bool:
        """False when even sandboxes at :data:`SANDBOX_FLOOR_MB` exceed the limit."""
        return self.sandbox_limit_mb >= min(SANDBOX_FLOOR_MB, self.requested_mb)

    @property
    def lowered(self) -> bool:
        return self.sandbox_limit_mb < self.requested_mb


def plan(limit_mb: int | None, processes: int, threads: int, requested_mb: int) -> MemoryPlan:
    """The sandboxes' limit that keeps the worst case inside ``limit_mb``."""
    base = MASTER_MB + processes * PROCESS_MB
    sandboxes = processes * threads
    sandbox = requested_mb
    if limit_mb is not None:
        room = int(limit_mb * USABLE_FRACTION) - base
        sandbox = min(requested_mb, max(0, room) // sandboxes)
    return MemoryPlan(limit_mb, base, sandboxes, sandbox, requested_mb)


def describe(p: MemoryPlan) -> str:
    """The start-up line when the plan does not fit."""
    return (
        f"a {p.limit_mb} MB container cannot hold {p.sandboxes} sandbox(es) of at least "
        f"{min(SANDBOX_FLOOR_MB, p.requested_mb)} MB beside {p.base_mb} MB of worker "
        "processes: lower WORKER_PROCESSES or WORKER_THREADS, or give the replica more memory"
    )
