"""Memory: the API during a 200 MB upload, and a worker process on a 1,000-page document.

RSS is sampled from /proc every 50 ms. For the API the figure is the growth of the SUM
over the gunicorn master and its workers (peak during the upload minus idle); the
baseline is a trivial gunicorn app reading the same body. For the worker the figure is
the peak, over the Dramatiq worker processes, of the sum over one worker process and
everything below it (its forkserver and sandboxes); the baseline is the same worker
idle, and the whole document extracted directly in one fresh process.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
from folio_common.settings import Settings

from testsupport import procs

from .documents import big_document, pdf_bytes, read
from .harness import AUTH, Stack, submit
from .report import Report
from .rss import RssSampler, tree_rss_mb, worker_groups

UPLOAD_MB = 200
WORKER_PAGES = 1000
#: pdfium keeps the 1,000-page run short; pdfminer's per-part peak is sampled by bigdoc.
WORKER_ENGINE = "pdfium"
TARGET_API_GROWTH_MB = 50
TARGET_WORKER_MB = 300
_BLOCK = (b"% padding " + b"." * 80 + b"\n") * (1024 * 1024 // 91 + 1)


class PaddedPdf:
    """``size`` bytes made on the fly: a PDF header, comment padding, ``%%EOF``.

    Has ``__len__`` (so requests sends a Content-Length) and ``read`` (so it streams).
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._sent = 0
        self._head = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"
        self._tail = b"\n%%EOF\n"

    def __len__(self) -> int:
        return self.size - self._sent

    def read(self, n: int = -1) -> bytes:
        remaining = self.size - self._sent
        n = remaining if n < 0 else min(n, remaining)
        if n <= 0:
            return b""
        out = bytearray()
        while len(out) < n:
            pos = self._sent + len(out)
            if pos < len(self._head):
                out += self._head[pos : pos + n - len(out)]
            elif pos >= self.size - len(self._tail):
                tail_pos = pos - (self.size - len(self._tail))
                out += self._tail[tail_pos : tail_pos + n - len(out)]
            else:
                stop = min(self.size - len(self._tail), pos + n - len(out))
                out += _BLOCK[: stop - pos]
        self._sent += len(out)
        return bytes(out)


def _upload_growth(url: str, root_pid: int, headers: dict[str, str]) -> tuple[float, float, float]:
    """(sum growth MB, largest-process growth MB, seconds) of one 200 MB upload."""
    with RssSampler(lambda: {"app": [root_pid]}) as idle:
        time.sleep(1.0)
    with RssSampler(lambda: {"app": [root_pid]}) as busy:
        started = time.perf_counter()
        resp = requests.post(
            url, data=PaddedPdf(UPLOAD_MB * 1024 * 1024), headers=headers, timeout=600
        )
        elapsed = time.perf_counter() - started
        time.sleep(0.2)
    if resp.status_code not in (200, 202):
        raise RuntimeError(f"200 MB upload refused: {resp.status_code} {resp.text[:300]}")
    return (
        busy.peak_sum["app"] - idle.peak_sum["app"],
        busy.peak_one["app"] - idle.peak_one["app"],
        elapsed,
    )


def _direct_rss_mb(path: Path, pages: int, engine: str) -> float:
    """Peak RSS of a fresh process that extracts the whole document directly.

    VmHWM, not ru_maxrss: Linux carries ru_maxrss from the parent through fork and exec.
    """
    code = (
        "import json\n"
        "from bench.direct import extract\n"
        f"extract(({str(path)!r}, {engine!r}, list(range(1, {pages} + 1))))\n"
        "hwm = next(l for l in open('/proc/self/status') if l.startswith('VmHWM:'))\n"
        "print(json.dumps(int(hwm.split()[1]) / 1024))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=procs.ROOT
    )
    return float(json.loads(out.stdout.strip().splitlines()[-1]))


def run() -> Report:
    report = Report("memory (RSS from /proc every 50 ms)")
    settings = Settings.from_env({})
    small = pdf_bytes(1)
    with Stack("memory") as stack:
        api, base = stack.api(MAX_UPLOAD_MB=str(UPLOAD_MB + 100))
        with requests.Session() as session:
            for _ in range(4 * settings.web_concurrency):  # every gunicorn worker warm
                submit(session, base, small, engine="pdfium")
        headers = {**AUTH, "Content-Type": "application/pdf"}
        api_growth, api_one, api_s = _upload_growth(f"{base}/api/v1/jobs", api.proc.pid, headers)
        stack.stop(api)
        port = procs.free_port()
        trivial = stack.gunicorn(
            "bench.trivial_app:app", port, settings.web_concurrency, settings.web_threads
        )
        base_growth, _, base_s = _upload_growth(f"http://127.0.0.1:{port}/", trivial.proc.pid, {})
        stack.stop(trivial)

        with tempfile.TemporaryDirectory() as tmp:
            doc = big_document(Path(tmp) / "thousand.pdf", WORKER_PAGES)
            direct_mb = _direct_rss_mb(doc.path, doc.pages, WORKER_ENGINE)
            _, base = stack.api()
            worker = stack.worker(settings.worker_processes)
            with requests.Session() as session:
                submit(session, base, small, engine=WORKER_ENGINE, wait_s=30)
                idle_mb = max(
                    tree_rss_mb(pids) for n, pids in worker_groups(worker).items() if n != "master"
                )
                with RssSampler(lambda: worker_groups(worker)) as sampler:
                    job_id = submit(session, base, read(doc.path), engine=WORKER_ENGINE)["id"]
                    _, failed = stack.wait_finished([job_id], timeout=600)
            if failed:
                raise RuntimeError("the 1,000-page job failed")
    workers = {k: v for k, v in sampler.peak_sum.items() if k != "master"}
    worker_mb = max(workers.values())
    worker_pss = max(v for k, v in sampler.peak_pss.items() if k != "master")
    largest = max(v for k, v in sampler.peak_one.items() if k != "master")
    report.figures |= {
        "api_rss_growth_mb_200mb": round(api_growth, 1),
        "api_rss_growth_mb_200mb_largest_process": round(api_one, 1),
        "api_rss_growth_mb_200mb_baseline": round(base_growth, 1),
        "api_upload_200mb_s": round(api_s, 2),
        "api_upload_200mb_s_baseline": round(base_s, 2),
        "worker_rss_mb_1000pages": round(worker_mb, 1),
        "worker_pss_mb_1000pages": round(worker_pss, 1),
        "worker_rss_mb_1000pages_largest_process": round(largest, 1),
        "worker_rss_mb_idle": round(idle_mb, 1),
        "worker_rss_mb_1000pages_direct": round(direct_mb, 1),
        "worker_pages_1000pages": doc.pages,
        "worker_engine_1000pages": WORKER_ENGINE,
    }
    report.row(
        f"API RSS growth, {UPLOAD_MB} MB upload, master+workers (target < {TARGET_API_GROWTH_MB})",
        f"{api_growth:.1f} MB",
        f"trivial app {base_growth:.1f} MB",
    )
    report.row("  largest single API process growth", f"{api_one:.1f} MB", "")
    report.row(f"  upload time {UPLOAD_MB} MB", f"{api_s:.1f} s", f"trivial app {base_s:.1f} s")
    report.row(
        f"worker process tree peak RSS, {doc.pages} pages {WORKER_ENGINE} "
        f"(target < {TARGET_WORKER_MB})",
        f"{worker_mb:.0f} MB",
        f"idle {idle_mb:.0f} MB; direct 1 process {direct_mb:.0f} MB",
    )
    report.row("  same, PSS (shared pages split)", f"{worker_pss:.0f} MB", "")
    report.row("  largest single process in it", f"{largest:.0f} MB", "")
    return report
