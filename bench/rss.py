"""Memory of process trees, read from /proc (VmRSS and PSS), sampled in a thread."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence

from testsupport import procs

#: Seconds between samples.
SAMPLE_INTERVAL_S = 0.05


def children_map() -> dict[int, list[int]]:
    """pid → child pids, from /proc."""
    tree: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as fh:
                stat = fh.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def descendants(pid: int, tree: dict[int, list[int]] | None = None) -> list[int]:
    """``pid`` and every process below it."""
    tree = tree if tree is not None else children_map()
    found, stack = [], [pid]
    while stack:
        current = stack.pop()
        found.append(current)
        stack.extend(tree.get(current, []))
    return found


def rss_mb(pid: int) -> float:
    """Resident set size (VmRSS) in MiB; 0 when the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def pss_mb(pid: int) -> float:
    """Proportional set size in MiB: shared pages split among their sharers, so a sum over
    processes is what they really occupy together; 0 when the process is gone."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class RssSampler:
    """Samples groups of process trees every :data:`SAMPLE_INTERVAL_S` in a thread.

    ``groups()`` returns {name: [root pids]}; each sample records, per name, the sum of
    VmRSS over the roots and all their descendants at that instant (pages shared between
    processes count once per process, so this is an upper bound), the sum of PSS (shared
    pages split: the group's real footprint), and the largest single process's VmRSS.
    """

    def __init__(self, groups: Callable[[], dict[str, list[int]]]) -> None:
        self._groups = groups
        self.peak_sum: dict[str, float] = {}
        self.peak_pss: dict[str, float] = {}
        self.peak_one: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> RssSampler:
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def sample(self) -> None:
        tree = children_map()
        for name, roots in self._groups().items():
            pids = [pid for root in roots for pid in descendants(root, tree)]
            rss = [rss_mb(pid) for pid in pids]
            if not rss:
                continue
            self.peak_sum[name] = max(self.peak_sum.get(name, 0.0), sum(rss))
            self.peak_one[name] = max(self.peak_one.get(name, 0.0), *rss)
            pss = sum(pss_mb(pid) for pid in pids)
            self.peak_pss[name] = max(self.peak_pss.get(name, 0.0), pss)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(SAMPLE_INTERVAL_S)


def tree_rss_mb(roots: Sequence[int]) -> float:
    tree = children_map()
    return sum(rss_mb(pid) for root in roots for pid in descendants(root, tree))


def worker_groups(service: procs.Service) -> dict[str, list[int]]:
    """The Dramatiq worker processes of a ``folio-worker run`` (each with its forkserver and
    sandboxes below it), plus the master alone."""
    master = service.proc.pid
    tree = children_map()
    groups: dict[str, list[int]] = {f"worker-{pid}": [pid] for pid in tree.get(master, [])}
    groups["master"] = [master]
    return groups
