"""Ingestion: ``POST /api/v1/jobs`` with a small PDF at 1, 16 and 64 concurrent clients.

No worker runs, so the jobs just queue: this is the API alone (upload, hash, one
transaction for the job row and its blob, the enqueue). The load generator is a separate
process (:mod:`bench.loadgen`). Baseline: a trivial gunicorn app with the same worker
model and counts (:mod:`bench.trivial_app`) under the same load — the ratio is what
Folio's own work costs.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from folio_common.settings import Settings

from testsupport import procs

from .documents import pdf_bytes
from .harness import API_KEY, Stack
from .report import Report

CONCURRENCY = (1, 16, 64)
DURATION_S = 5.0
TARGET_RPS_16 = 500
TARGET_P99_MS_16 = 100


def _load(url: str, clients: int, body_path: Path, headers: list[str]) -> dict[str, Any]:
    argv = [sys.executable, "-m", "bench.loadgen", url, "--clients", str(clients)]
    argv += ["--duration", str(DURATION_S), "--body", str(body_path)]
    for header in headers:
        argv += ["--header", header]
    out = subprocess.run(argv, capture_output=True, text=True, check=True, cwd=procs.ROOT)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def run() -> Report:
    report = Report(f"ingestion: POST /api/v1/jobs, small PDF, {DURATION_S:g} s per level")
    settings = Settings.from_env({})
    headers = [f"Authorization: Bearer {API_KEY}", "Content-Type: application/pdf"]
    folio: dict[int, dict[str, Any]] = {}
    trivial: dict[int, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp, Stack("ingest") as stack:
        body = Path(tmp) / "small.pdf"
        body.write_bytes(pdf_bytes(1))
        api, base = stack.api()
        for clients in CONCURRENCY:
            folio[clients] = _load(f"{base}/api/v1/jobs?engine=pdfium", clients, body, headers)
        stack.stop(api)
        port = procs.free_port()
        stack.gunicorn(
            "bench.trivial_app:app", port, settings.web_concurrency, settings.web_threads
        )
        for clients in CONCURRENCY:
            trivial[clients] = _load(f"http://127.0.0.1:{port}/", clients, body, headers)
    for clients in CONCURRENCY:
        f, t = folio[clients], trivial[clients]
        report.figures |= {
            f"ingest_rps_{clients}": round(f["rps"], 1),
            f"ingest_p50_ms_{clients}": round(f["p50_ms"], 1),
            f"ingest_p99_ms_{clients}": round(f["p99_ms"], 1),
            f"ingest_errors_{clients}": f["errors"],
            f"ingest_rps_{clients}_baseline": round(t["rps"], 1),
            f"ingest_p99_ms_{clients}_baseline": round(t["p99_ms"], 1),
            f"ingest_ratio_{clients}": round(f["rps"] / t["rps"], 3),
        }
        report.row(
            f"{clients} clients: requests/s",
            f["rps"],
            f"trivial app {t['rps']:.0f}/s (ratio {f['rps'] / t['rps']:.2f})",
        )
        report.row(
            f"{clients} clients: p50 / p99 ms",
            f"{f['p50_ms']:.1f} / {f['p99_ms']:.1f}",
            f"trivial app {t['p50_ms']:.1f} / {t['p99_ms']:.1f}",
        )
        if f["errors"]:
            report.row(f"{clients} clients: errors", f["errors"], str(f["statuses"]))
    report.notes.append(
        f"targets at 16 clients: ≥ {TARGET_RPS_16}/s, p99 < {TARGET_P99_MS_16} ms; API: "
        f"{settings.web_concurrency} gunicorn workers x {settings.web_threads} threads"
    )
    return report
