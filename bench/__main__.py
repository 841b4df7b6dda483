"""``python -m bench [name ...]``: run the benchmarks, print their tables and JSON, and
write ``bench/results.json`` (figures of benchmarks not run this time are kept)."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import bigdoc, capacity, idle, ingest, latency, memory, ocr, peer, pipeline
from .report import Report, machine

RESULTS = Path(__file__).resolve().parent / "results.json"
#: In the order they run: the cheap ones first, so a failure shows early.
BENCHMARKS: dict[str, Callable[[], Report]] = {
    "latency": latency.run,
    "ingest": ingest.run,
    "peer": peer.run,
    "idle": idle.run,
    "capacity": capacity.run,
    "memory": memory.run,
    "pipeline": pipeline.run,
    "bigdoc": bigdoc.run,
    "ocr": ocr.run,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", help=f"any of {', '.join(BENCHMARKS)} (default: all)")
    args = parser.parse_args(argv)
    # A SIGTERM (timeout, Ctrl-C in make) unwinds the stacks: processes stopped, databases dropped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    names = args.names or list(BENCHMARKS)
    if unknown := set(names) - set(BENCHMARKS):
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    results: dict[str, Any] = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    started = time.monotonic()
    loads: dict[str, list[float]] = results.get("load_average", {})
    for name in names:
        t0, load_before = time.monotonic(), os.getloadavg()[0]
        report = BENCHMARKS[name]()
        # Other work on the machine skews every figure: keep the 1-minute load with them.
        loads[name] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
        print(report.render(), f"\n  ({time.monotonic() - t0:.0f} s)", flush=True)
        print(json.dumps(report.figures, indent=None), flush=True)
        results.update(report.figures)
        _write(results, loads, started)  # after each one: an interrupted run keeps what it did
    print(f"wrote {RESULTS} ({results['duration_s']} s)")
    return 0


def _write(results: dict[str, Any], loads: dict[str, list[float]], started: float) -> None:
    results["load_average"] = loads
    results["machine"] = machine()
    results["date"] = datetime.now(UTC).isoformat(timespec="seconds")
    results["duration_s"] = round(time.monotonic() - started)
    RESULTS.write_text(json.dumps(dict(sorted(results.items())), indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main())
