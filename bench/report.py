"""A benchmark's outcome (figures, a table) and the statistics and machine facts it uses."""

from __future__ import annotations

import contextlib
import os
import platform
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Report:
    """A benchmark's outcome: ``figures`` go to results.json; ``rows`` print as a table."""

    name: str
    figures: dict[str, Any] = field(default_factory=dict)
    rows: list[tuple[str, str, str]] = field(default_factory=list)  # measure, value, baseline
    notes: list[str] = field(default_factory=list)

    def row(self, measure: str, value: Any, baseline: Any = "") -> None:
        self.rows.append((measure, _fmt(value), _fmt(baseline)))

    def render(self) -> str:
        width = max([len(r[0]) for r in self.rows] + [7])
        lines = [f"== {self.name}", f"  {'measure':<{width}}  {'value':>12}  baseline"]
        lines += [f"  {m:<{width}}  {v:>12}  {b}" for m, v, b in self.rows]
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"
    return str(value)


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100), nearest-rank on the sorted values."""
    ordered = sorted(values)
    rank = max(1, round(q / 100 * len(ordered) + 0.4999))
    return ordered[min(rank, len(ordered)) - 1]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def machine() -> dict[str, Any]:
    model = platform.processor() or platform.machine()
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as fh:
        for line in fh:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "cores": len(os.sched_getaffinity(0)),
        "cpu_model": model,
        "memory_gb": round(mem_gb, 1),
        "python": platform.python_version(),
        "kernel": platform.release(),
    }
