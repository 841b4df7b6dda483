"""What every benchmark shares: a private Folio stack, the corpus, timing and RSS sampling.

A :class:`Stack` owns one database (created, migrated, dropped) and one Redis namespace
(its keys deleted at the end), and the real processes started on them: the API under
gunicorn and ``folio-worker run``. Benchmarks measure through it and report a
:class:`Report`: their figures plus the baseline measured in the same run.
"""

from __future__ import annotations

import contextlib
import csv
import os
import platform
import shutil
import statistics
import tempfile
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pikepdf
import redis
import requests
from folio_common.migrate import apply
from folio_common.settings import Settings
from sqlalchemy import create_engine, text

from testsupport import procs
from testsupport.pdfs import make_pdf

ROOT = Path(__file__).resolve().parents[1]
#: Server of the benchmark databases (an admin database to CREATE/DROP from).
ADMIN_URL = os.environ.get("FOLIO_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("FOLIO_BENCH_REDIS", "redis://127.0.0.1:6379/0")
CORPUS = Path(os.environ.get("FOLIO_CORPUS", ROOT.parent / "shared" / "corpus"))
API_KEY = "bench-key-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {API_KEY}"}
#: Seconds between RSS samples.
SAMPLE_INTERVAL_S = 0.05
#: Corpus categories whose files carry a text layer (used to build big documents).
TEXT_CATEGORIES = ("text", "multicolumn", "cjk", "form", "large")
TERMINAL = ("succeeded", "failed", "cancelled")


# ---- results ---------------------------------------------------------------------------


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


# ---- documents -------------------------------------------------------------------------


@dataclass(frozen=True)
class Document:
    name: str
    path: Path
    pages: int
    category: str = "generated"


def corpus_available() -> bool:
    return (CORPUS / "MANIFEST.tsv").exists()


def corpus_documents(categories: Sequence[str] | None = None) -> list[Document]:
    """The corpus files expected to succeed (``expected_outcome`` ok), with page counts."""
    with open(CORPUS / "MANIFEST.tsv", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    found = []
    for row in rows:
        if row["expected_outcome"] != "ok":
            continue
        if categories is not None and row["category"] not in categories:
            continue
        path = CORPUS / row["file"]
        with pikepdf.open(path) as pdf:
            found.append(Document(row["file"], path, len(pdf.pages), row["category"]))
    return found


def generated_documents(out_dir: Path, count: int = 20) -> list[Document]:
    """Stand-ins when the corpus is absent: small generated PDFs of 1-10 pages."""
    docs = []
    for n in range(count):
        pages = 1 + n % 10
        path = out_dir / f"generated-{n:03d}.pdf"
        path.write_bytes(make_pdf(pages))
        docs.append(Document(path.name, path, pages))
    return docs


def benchmark_documents(out_dir: Path) -> list[Document]:
    return corpus_documents() if corpus_available() else generated_documents(out_dir)


def big_document(out_path: Path, min_pages: int) -> Document:
    """At least ``min_pages`` real pages: the corpus' text files concatenated (repeated as
    needed) with pikepdf; generated pages when there is no corpus."""
    if not corpus_available():
        out_path.write_bytes(make_pdf(min_pages))
        return Document(out_path.name, out_path, min_pages)
    sources = [pikepdf.open(d.path) for d in corpus_documents(TEXT_CATEGORIES)]
    try:
        warnings.simplefilter("ignore", pikepdf.PageCopyWarning)  # links and forms: not the point
        big = pikepdf.new()
        while len(big.pages) < min_pages:
            for src in sources:
                big.pages.extend(src.pages)
        big.save(out_path)
        pages = len(big.pages)
        big.close()
    finally:
        for src in sources:
            src.close()
    return Document(out_path.name, out_path, pages)


def one_page_pdf(out_dir: Path) -> Document:
    """A real one-page text document (generated without the corpus)."""
    name = "002-trivial-libre-office-writer.pdf"
    if corpus_available() and (CORPUS / name).exists():
        return Document(name, CORPUS / name, 1, "text")
    path = out_dir / "one-page.pdf"
    path.write_bytes(make_pdf(1))
    return Document(path.name, path, 1)


# ---- the stack -------------------------------------------------------------------------


def _admin_engine() -> Any:
    return create_engine(
        ADMIN_URL.replace("postgresql://", "postgresql+psycopg2://", 1),
        isolation_level="AUTOCOMMIT",
    )


class Stack:
    """A private database + Redis namespace, and the Folio processes started on them.

    Use as a context manager; everything it started or created is gone afterwards. Logs of
    the processes are kept under ``bench/logs/<name>/`` only when ``FOLIO_BENCH_KEEP_LOGS``
    is set.
    """

    def __init__(self, name: str) -> None:
        tag = uuid.uuid4().hex[:8]
        self.name = name
        self.database = f"folio_bench_{name}_{tag}"
        self.namespace = f"folio-bench-{name}-{tag}"
        self.work_dir = Path(tempfile.mkdtemp(prefix=f"folio-bench-{name}-"))
        self.database_url = ADMIN_URL.rsplit("/", 1)[0] + f"/{self.database}"
        self.env: dict[str, str] = {
            "DATABASE_URL": self.database_url,
            "REDIS_URL": REDIS_URL,
            "REDIS_NAMESPACE": self.namespace,
            "API_KEYS": f"bench:{API_KEY}",
            "LOG_LEVEL": "info",
            "FOLIO_ENV": "development",
        }
        self._services: list[procs.Service] = []
        self._started = 0
        self._engine: Any = None

    def __enter__(self) -> Stack:
        engine = _admin_engine()
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{self.database}"'))
        engine.dispose()
        apply(Settings.from_env(self.env))
        self._engine = create_engine(
            self.database_url.replace("postgresql://", "postgresql+psycopg2://", 1)
        )
        return self

    def __exit__(self, *exc: object) -> None:
        for service in reversed(self._services):
            service.stop()
        self._services.clear()
        if self._engine is not None:
            self._engine.dispose()
        engine = _admin_engine()
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)'))
        engine.dispose()
        client = redis.Redis.from_url(REDIS_URL)
        with contextlib.suppress(redis.RedisError):
            for key in client.scan_iter(match=f"{self.namespace}*", count=1000):
                client.delete(key)
        if os.environ.get("FOLIO_BENCH_KEEP_LOGS"):
            keep = ROOT / "bench" / "logs" / self.name
            shutil.rmtree(keep, ignore_errors=True)
            shutil.copytree(self.work_dir, keep)
        shutil.rmtree(self.work_dir, ignore_errors=True)

    def api(self, **env: str) -> tuple[procs.Service, str]:
        """Start the API (gunicorn, as deployed); returns it and its base URL."""
        log_dir = self._log_dir("api")
        service, base = procs.start_api({**self.env, **env}, log_dir)
        self._services.append(service)
        return service, base

    def worker(self, processes: int, **env: str) -> procs.Service:
        """Start ``folio-worker run`` with ``processes`` and wait until each process is ready."""
        name = f"worker-{len(self._services)}"
        merged = {**self.env, "WORKER_PROCESSES": str(processes), **env}
        service = procs.Service(
            name, [str(procs.BIN / "folio-worker"), "run"], merged, self.work_dir
        )
        self._services.append(service)
        procs.wait_until(lambda: service.log_text().count("worker ready") >= processes, 90)
        return service

    def gunicorn(self, app: str, port: int, workers: int, threads: int) -> procs.Service:
        """Any WSGI app under gunicorn with the API's worker model (gthread)."""
        argv = [
            str(procs.BIN / "gunicorn"),
            "--bind", f"127.0.0.1:{port}",
            "--worker-class", "gthread",
            "--workers", str(workers),
            "--threads", str(threads),
            "--keep-alive", "5",
            app,
        ]  # fmt: skip
        service = procs.Service("gunicorn", argv, {}, self._log_dir("gunicorn"))
        self._services.append(service)
        base = f"http://127.0.0.1:{port}"
        procs.wait_until(lambda: requests.get(base + "/", timeout=1).status_code < 500)
        return service

    def stop(self, service: procs.Service) -> None:
        service.stop()
        if service in self._services:
            self._services.remove(service)

    def _log_dir(self, name: str) -> Path:
        self._started += 1
        path = self.work_dir / f"{name}-{self._started}"
        path.mkdir()
        return path

    # -- reading the database directly (cheaper than polling the API for many jobs) --

    def progress(self, job_ids: Sequence[str]) -> tuple[int, int, float | None]:
        """(terminal jobs, failed jobs, latest finished_at as epoch seconds)."""
        sql = text(
            "SELECT count(*) FILTER (WHERE status = ANY(:terminal)),"
            " count(*) FILTER (WHERE status <> 'succeeded' AND status = ANY(:terminal)),"
            " extract(epoch FROM max(finished_at))"
            " FROM jobs WHERE id = ANY(CAST(:ids AS uuid[]))"
        )
        with self._engine.connect() as conn:
            row = conn.execute(sql, {"terminal": list(TERMINAL), "ids": list(job_ids)}).one()
        return int(row[0]), int(row[1]), float(row[2]) if row[2] is not None else None

    def wait_finished(self, job_ids: Sequence[str], timeout: float) -> tuple[float, int]:
        """Wait until every job is terminal; (latest finished_at epoch, failed count)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done, failed, last = self.progress(job_ids)
            if done == len(job_ids) and last is not None:
                return last, failed
            time.sleep(0.05)
        raise TimeoutError(f"{self.name}: jobs not finished within {timeout}s")


def submit(
    session: requests.Session,
    base: str,
    body: bytes,
    *,
    engine: str,
    wait_s: int | None = None,
    timeout: float = 60,
) -> dict[str, Any]:
    """``POST /api/v1/jobs`` with a raw PDF body; the job document."""
    headers = {**AUTH, "Content-Type": "application/pdf"}
    if wait_s is not None:
        headers["Prefer"] = f"wait={wait_s}"
    resp = session.post(
        f"{base}/api/v1/jobs",
        params={"engine": engine},
        data=body,
        headers=headers,
        timeout=timeout,
    )
    if resp.status_code not in (200, 202):
        raise RuntimeError(f"upload refused: {resp.status_code} {resp.text[:300]}")
    document: dict[str, Any] = resp.json()
    return document


def submit_all(base: str, bodies: Sequence[bytes], *, engine: str, clients: int = 4) -> list[str]:
    """Upload ``bodies`` over HTTP from ``clients`` threads; job ids in the same order."""
    ids: list[str] = [""] * len(bodies)
    lock = threading.Lock()
    queue = list(enumerate(bodies))

    def client() -> None:
        with requests.Session() as session:
            while True:
                with lock:
                    if not queue:
                        return
                    index, body = queue.pop(0)
                ids[index] = submit(session, base, body, engine=engine)["id"]

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if not all(ids):
        raise RuntimeError("some uploads failed (see the exception above)")
    return ids


# ---- processes and memory ---------------------------------------------------------------


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


@contextlib.contextmanager
def timed() -> Iterator[Callable[[], float]]:
    """``with timed() as elapsed: ...; elapsed()`` → seconds (frozen when the block ends)."""
    start = time.perf_counter()
    end: list[float] = []
    yield lambda: (end[0] if end else time.perf_counter()) - start
    end.append(time.perf_counter())


def pdf_bytes(pages: int) -> bytes:
    return make_pdf(pages)


def read(path: Path) -> bytes:
    with open(path, "rb") as fh:
        return fh.read()


def worker_groups(service: procs.Service) -> dict[str, list[int]]:
    """The Dramatiq worker processes of a ``folio-worker run`` (each with its forkserver and
    sandboxes below it), plus the master alone."""
    master = service.proc.pid
    tree = children_map()
    groups: dict[str, list[int]] = {f"worker-{pid}": [pid] for pid in tree.get(master, [])}
    groups["master"] = [master]
    return groups
