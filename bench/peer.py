"""Folio and the peer stack side by side, in the same run, with the peer's own harness.

``../shared/peers/seedstack`` is the stack Folio replaces (Flask + gunicorn, Celery on
Redis, SQLAlchemy, pikepdf + pdfminer; its README). When it is present this starts it
and a Folio stack (API + a 2-process worker, as ``make up``), and runs the same loads of
``../shared/peers/bench`` against each — uploads at 16 and 64 clients (each twice per
side, A B B A), then the 1-page submit→result latency (pdfminer on both) — alternating
which goes first. The peer's
figures and the ratios are written beside Folio's own (``peer_*``, ``folio_vs_peer_*``).
When it is absent the benchmark says so in one line and writes nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from testsupport import procs

from .harness import API_KEY, ROOT, Stack
from .report import Report

PEERS = Path(os.environ.get("FOLIO_BENCH_PEERS", ROOT.parent / "shared" / "peers"))
SEEDSTACK = PEERS / "seedstack"
HARNESS = PEERS / "bench"
#: The peer's virtualenv (its README installs it there); created when missing.
VENV = Path(os.environ.get("FOLIO_BENCH_PEER_VENV", "/tmp/venv-peer"))
PEER_KEY = "peer-bench-key"
INGEST_REQUESTS = 1000
INGEST_CLIENTS = (16, 64)
LATENCY_RUNS = 30
#: The issue's targets, Folio against the peer in the same run.
TARGET_RPS_RATIO = 1.5
TARGET_LATENCY_RATIO = 0.6


def _python() -> str:
    python = VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        requirements = [SEEDSTACK / "requirements.txt", HARNESS / "requirements.txt"]
        argv = [str(VENV / "bin" / "pip"), "install", "-q"]
        subprocess.run(argv + [a for r in requirements for a in ("-r", str(r))], check=True)
    return str(python)


def _harness(python: str, script: str, url: str, key: str, *args: str) -> dict[str, Any]:
    argv = [python, script, "--url", url, "--key", key, "--timeout", "600", *args]
    out = subprocess.run(argv, cwd=HARNESS, capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(out.stdout)
    return result


class Peer:
    """The seedstack, started with its run.sh on a private database and run directory."""

    def __init__(self, work_dir: Path) -> None:
        self.port = procs.free_port()
        self.env = {
            **os.environ,
            "VENV": str(VENV),
            "PORT": str(self.port),
            "CONCURRENCY": "2",
            "DB_NAME": f"peer_seedstack_bench_{os.getpid()}",
            "RUN_DIR": str(work_dir),
            "API_KEYS": f"bench:{PEER_KEY}",
            # Not the peer's default DB 9: another run of the peer must not share its queue.
            "REDIS_URL": os.environ.get("FOLIO_BENCH_PEER_REDIS", "redis://127.0.0.1:6379/11"),
        }
        self.url = f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Peer:
        subprocess.run([str(SEEDSTACK / "run.sh")], env=self.env, check=True, timeout=120)
        return self

    def __exit__(self, *exc: object) -> None:
        subprocess.run([str(SEEDSTACK / "stop.sh")], env=self.env, check=False, timeout=120)
        subprocess.run(
            ["dropdb", "--if-exists", "--force", self.env["DB_NAME"]], env=self.env, check=False
        )


def _ingest(python: str, url: str, key: str, clients: int) -> dict[str, Any]:
    r = _harness(python, "ingest.py", url, key, "-n", str(INGEST_REQUESTS), "-c", str(clients))
    return {
        "seconds": INGEST_REQUESTS / r["requests_per_s"],
        "p99": r["latency_ms"]["p99"],
        "errors": r["non_2xx"] + sum(r["transport_errors"].values()),
    }


def _ingest_rounds(python: str, sides: dict[str, tuple[str, str]]) -> dict[str, dict[str, Any]]:
    """Each load twice per side, in the order A B B A: the machine's speed drifts by
    ±15 % from minute to minute, and a drift that is linear over the four runs then
    weighs on both sides alike. Rates come from the summed times (as the peer's own
    harness takes its ratios), p99 is the mean of the two runs, errors are summed."""
    figures: dict[str, dict[str, Any]] = {name: {} for name in sides}
    names = list(sides)
    for clients in INGEST_CLIENTS:
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in sides}
        for name in [*names, *reversed(names)]:
            runs[name].append(_ingest(python, *sides[name], clients))
        for name, done in runs.items():
            seconds = sum(run["seconds"] for run in done)
            figures[name][f"ingest_rps_{clients}"] = round(INGEST_REQUESTS * len(done) / seconds, 1)
            p99 = sum(run["p99"] for run in done) / len(done)
            figures[name][f"ingest_p99_ms_{clients}"] = round(p99, 2)
            figures[name][f"ingest_non_2xx_{clients}"] = sum(run["errors"] for run in done)
    return figures


def _latency(python: str, url: str, key: str) -> dict[str, Any]:
    """The harness's p50 and p99, and what bounds them: it submits, polls at once and then
    every 10 ms, so a submit→result time is the submit plus a whole number of poll
    intervals. The submit's p50 and the mean number of polls show which interval a side's
    jobs were seen done in."""
    r = _harness(python, "latency.py", url, key, "-m", str(LATENCY_RUNS))
    return {
        "latency_p50_ms": r["submit_to_result_ms"]["p50"],
        "latency_p99_ms": r["submit_to_result_ms"]["p99"],
        "latency_submit_p50_ms": r["submit_ms"]["p50"],
        "latency_status_polls": r["mean_status_polls"],
    }


def run() -> Report:
    report = Report("side by side with the peer stack (its harness, same run, same cores)")
    if not (SEEDSTACK / "run.sh").exists():
        report.notes.append(f"peer absent ({SEEDSTACK}): side-by-side comparison skipped")
        return report
    python = _python()
    with tempfile.TemporaryDirectory(prefix="folio-bench-peer-") as tmp, Stack("peer") as stack:
        _, base = stack.api()
        stack.worker(2)
        with Peer(Path(tmp)) as peer:
            ingest = _ingest_rounds(
                python, {"peer": (peer.url, PEER_KEY), "folio": (base, API_KEY)}
            )
            peer_figures, folio_figures = ingest["peer"], ingest["folio"]
            # Alternate the order, so neither side always meets the warmer machine.
            folio_figures |= _latency(python, base, API_KEY)
            peer_figures |= _latency(python, peer.url, PEER_KEY)
    figures: dict[str, Any] = {}
    for name, value in folio_figures.items():
        figures[f"folio_peerbench_{name}"] = value
        figures[f"peer_{name}"] = peer_figures[name]
    for clients in INGEST_CLIENTS:
        figures[f"folio_vs_peer_ingest_rps_{clients}"] = round(
            folio_figures[f"ingest_rps_{clients}"] / peer_figures[f"ingest_rps_{clients}"], 3
        )
        figures[f"folio_vs_peer_ingest_p99_{clients}"] = round(
            folio_figures[f"ingest_p99_ms_{clients}"] / peer_figures[f"ingest_p99_ms_{clients}"], 3
        )
    figures["folio_vs_peer_latency_p50"] = round(
        folio_figures["latency_p50_ms"] / peer_figures["latency_p50_ms"], 3
    )
    report.figures |= figures
    for clients in INGEST_CLIENTS:
        report.row(
            f"uploads/s, {clients} clients (target ≥ {TARGET_RPS_RATIO}x)",
            f"{folio_figures[f'ingest_rps_{clients}']:.0f}",
            f"peer {peer_figures[f'ingest_rps_{clients}']:.0f} "
            f"({figures[f'folio_vs_peer_ingest_rps_{clients}']:.2f}x)",
        )
        report.row(
            f"p99 ms, {clients} clients (target ≤ peer)",
            folio_figures[f"ingest_p99_ms_{clients}"],
            f"peer {peer_figures[f'ingest_p99_ms_{clients}']}",
        )
    report.row(
        f"1-page submit→result p50, pdfminer (target ≤ {TARGET_LATENCY_RATIO}x)",
        f"{folio_figures['latency_p50_ms']} ms",
        f"peer {peer_figures['latency_p50_ms']} ms ({figures['folio_vs_peer_latency_p50']:.2f}x)",
    )
    report.row(
        "  status polls until seen done (mean)",
        folio_figures["latency_status_polls"],
        f"peer {peer_figures['latency_status_polls']}",
    )
    report.row(
        "  submit alone, p50",
        f"{folio_figures['latency_submit_p50_ms']} ms",
        f"peer {peer_figures['latency_submit_p50_ms']} ms",
    )
    report.notes.append(
        "Folio: 2 gunicorn x 8 threads, worker 2 processes x 2 threads; peer: gunicorn 2 x 4, "
        "Celery prefork 2; loads from ../shared/peers/bench (multipart uploads of a 1-page PDF); "
        "its latency load polls a job at once, then every 10 ms"
    )
    return report
