"""A whole Folio under fault injection: a private PostgreSQL and Redis that can be stopped
and restarted, real gunicorn and Dramatiq processes, a load of mixed jobs, and the checks
of the invariants (nothing lost, one result per page, no 500, no secret in a log line).

Used by ``tests/chaos``. PostgreSQL runs from ``initdb`` in a temporary directory (as the
``postgres`` OS user when the tests run as root), with a password; Redis runs with
``requirepass``; so a leaked secret would show up in the logs the suite scans.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from folio_common.migrate import apply
from folio_common.settings import Settings
from sqlalchemy import create_engine, text

from testsupport.pdfs import make_pdf
from testsupport.procs import NO_KEY_LIMITS, Service, free_port, start_api, start_worker, wait_until

PG_BIN = Path(os.environ.get("FOLIO_PG_BIN", "/usr/lib/postgresql/15/bin"))
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
#: The statuses a job ends in.
TERMINAL = ("succeeded", "failed", "cancelled")


def available() -> str | None:
    """Why the chaos harness cannot run here, or None when it can."""
    if not (PG_BIN / "initdb").exists():
        return f"no initdb in {PG_BIN} (set FOLIO_PG_BIN)"
    if not Path(REDIS_SERVER).exists():
        return "no redis-server on PATH"
    return None


def _as_postgres(argv: list[str]) -> list[str]:
    """Run ``argv`` as the ``postgres`` OS user when we are root (initdb refuses root)."""
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


class Postgres:
    """A private PostgreSQL cluster on a free port, with a password, restartable."""

    def __init__(self, password: str) -> None:
        self.password = password
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="folio-chaos-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        pwfile = self.root / "pwfile"
        pwfile.write_text(password + "\n")
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
            shutil.chown(pwfile, "postgres", "postgres")
        subprocess.run(
            _as_postgres(
                [
                    str(PG_BIN / "initdb"),
                    "-D", str(self.data), "-U", "postgres", f"--pwfile={pwfile}",
                    "--auth-host=scram-sha-256", "--auth-local=trust", "-E", "UTF8",
                    "--no-sync",
                ]
            ),
            check=True,
            capture_output=True,
        )  # fmt: skip
        pwfile.unlink()
        self.start()

    def _ctl(self, *args: str) -> None:
        subprocess.run(
            _as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.data), *args]),
            check=True,
            capture_output=True,
            timeout=60,
        )

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
            "-c max_connections=200 -c fsync=off -c full_page_writes=off"
        )
        self._ctl("-o", options, "-l", str(self.log), "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self._ctl("-m", mode, "-w", "stop")

    def restart(self, mode: str = "immediate", down_s: float = 1.0) -> None:
        """Stop (``immediate`` = crash-like, no checkpoint), stay down, start again."""
        self.stop(mode)
        time.sleep(down_s)
        self.start()

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres:{self.password}@127.0.0.1:{self.port}/{database}"

    def execute(self, sql: str, **params: Any) -> list[Any]:
        engine = create_engine(
            self.url().replace("postgresql://", "postgresql+psycopg2://", 1),
            isolation_level="AUTOCOMMIT",
        )
        try:
            with engine.connect() as conn:
                result = conn.execute(text(sql), params)
                return list(result) if result.returns_rows else []
        finally:
            engine.dispose()

    def create_database(self, name: str) -> str:
        self.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def terminate_backends(self, database: str) -> int:
        """``pg_terminate_backend`` every client connection to ``database``."""
        rows = self.execute(
            """SELECT pg_terminate_backend(pid) FROM pg_stat_activity
               WHERE datname = :db AND pid <> pg_backend_pid()""",
            db=database,
        )
        return sum(1 for (ok,) in rows if ok)

    def close(self) -> None:
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


class RedisServer:
    """A private redis-server with ``requirepass`` and no persistence (a restart loses all)."""

    def __init__(self, password: str, log_dir: Path) -> None:
        self.password = password
        self.port = free_port()
        self.log_path = log_dir / "redis-server.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [
                    REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1",
                    "--requirepass", self.password, "--save", "", "--appendonly", "no",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        wait_until(self._ping, timeout=10, interval=0.05)

    def _ping(self) -> bool:
        import redis

        return bool(redis.Redis(port=self.port, password=self.password).ping())

    def stop(self) -> None:
        """SIGKILL: whatever was queued is gone, as when a platform replaces the instance."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def restart(self, down_s: float = 1.0) -> None:
        self.stop()
        time.sleep(down_s)
        self.start()

    def url(self) -> str:
        return f"redis://:{self.password}@127.0.0.1:{self.port}/0"


class WebhookReceiver:
    """A loopback HTTP server counting webhook deliveries."""

    def __init__(self) -> None:
        received: list[str] = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                self.rfile.read(length)
                received.append(self.headers.get("webhook-id") or "")
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.received = received
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Secrets:
    """Every secret value a scenario uses; none may appear in any log line."""

    pg_password: str = field(default_factory=lambda: "pg-" + secrets.token_hex(12))
    redis_password: str = field(default_factory=lambda: "rd-" + secrets.token_hex(12))
    api_key: str = field(default_factory=lambda: "key-" + secrets.token_hex(12))
    other_key: str = field(default_factory=lambda: "oth-" + secrets.token_hex(12))
    pdf_password: str = field(default_factory=lambda: "pdfpw-" + secrets.token_hex(6))
    webhook_key: str = field(default_factory=lambda: secrets.token_hex(24))

    @property
    def webhook_secret(self) -> str:
        import base64

        return "whsec_" + base64.b64encode(self.webhook_key.encode()).decode()

    def values(self) -> dict[str, str]:
        return {
            "DATABASE password": self.pg_password,
            "Redis password": self.redis_password,
            "API key": self.api_key,
            "other API key": self.other_key,
            "PDF password": self.pdf_password,
            "webhook secret": self.webhook_secret.removeprefix("whsec_"),
        }


def leaked_secrets(log_dir: Path, values: Mapping[str, str]) -> dict[str, list[str]]:
    """{secret name: [file:line, …]} for every log line holding a secret verbatim."""
    found: dict[str, list[str]] = {}
    for path in sorted(log_dir.glob("*.log")):
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            for name, value in values.items():
                if value in line:
                    found.setdefault(name, []).append(f"{path.name}:{number}")
    return found


# The load -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Doc:
    """One kind of upload: its bytes, page count and options."""

    pdf: bytes
    pages: int
    fields: tuple[tuple[str, str], ...] = ()


def mixed_docs(pdf_password: str, callback_url: str | None) -> list[Doc]:
    """Mostly small (1-3 pages), one in eight large (30-60 pages: 3-6 parts of 10), one
    encrypted with its password, one with a webhook: the mix the scenarios cycle through."""
    docs = [Doc(make_pdf(n), n) for n in (1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3, 1)]
    docs += [Doc(make_pdf(n, lines=3), n) for n in (30, 60)]
    docs.append(Doc(make_pdf(2, password=pdf_password), 2, (("password", pdf_password),)))
    if callback_url:
        docs.append(Doc(make_pdf(1), 1, (("callback_url", callback_url),)))
    return docs


@dataclass
class Submission:
    doc: Doc
    statuses: list[int] = field(default_factory=list)
    job_id: str | None = None
    errors: list[str] = field(default_factory=list)


class Load:
    """Clients submitting documents like a well-behaved client: a 503 is retried after a
    short pause, as are refused connections; every status is kept.

    Parameters:
      base: the API's base URL.
      api_key: the bearer key.
      docs: the documents to cycle through.
      clients: concurrent client threads.
      max_tries: attempts of one submission (503s and connection errors).
    """

    def __init__(
        self, base: str, api_key: str, docs: list[Doc], clients: int = 8, max_tries: int = 20
    ) -> None:
        self.base = base
        self.headers = {"Authorization": f"Bearer {api_key}"}
        self.docs = docs
        self.clients = clients
        self.max_tries = max_tries
        self.submissions: list[Submission] = []
        self._lock = threading.Lock()

    def _submit(self, i: int) -> Submission:
        sub = Submission(self.docs[i % len(self.docs)])
        with self._lock:
            self.submissions.append(sub)
        session = requests.Session()
        for _ in range(self.max_tries):
            try:
                response = session.post(
                    f"{self.base}/api/v1/jobs",
                    files={"file": ("doc.pdf", sub.doc.pdf, "application/pdf")},
                    data=dict(sub.doc.fields),
                    headers=self.headers,
                    timeout=60,
                )
            except requests.RequestException as exc:
                sub.errors.append(type(exc).__name__)
                time.sleep(0.5)
                continue
            sub.statuses.append(response.status_code)
            if response.status_code == 202:
                sub.job_id = response.json()["id"]
                break
            if response.status_code != 503:
                break
            time.sleep(min(float(response.headers.get("Retry-After", "1")), 1.0))
        session.close()
        return sub

    def run(self, total: int, duration_s: float = 0.0) -> None:
        """Submit ``total`` documents, spread evenly over ``duration_s`` (0: at once)."""
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=self.clients) as pool:
            futures = []
            for i in range(total):
                if duration_s:
                    delay = started + duration_s * i / total - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                futures.append(pool.submit(self._submit, i))
            for future in futures:
                future.result()

    def start(self, total: int, duration_s: float = 0.0) -> threading.Thread:
        thread = threading.Thread(target=self.run, args=(total, duration_s), daemon=True)
        thread.start()
        return thread

    def accepted(self) -> dict[str, Doc]:
        return {s.job_id: s.doc for s in self.submissions if s.job_id}

    def status_counts(self) -> Counter[int]:
        return Counter(code for s in self.submissions for code in s.statuses)


# The cluster -----------------------------------------------------------------------------


class Cluster:
    """gunicorn and Dramatiq processes over one scenario's database and Redis namespace.

    Workers are restarted the way a platform restarts a container: ``kill_worker`` SIGKILLs
    its whole process group (master, worker processes, sandboxes) and starts another;
    ``redeploy_worker`` starts the new one first, then SIGTERMs the old one.
    """

    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env = env
        self.log_dir = log_dir
        self.workers: list[Service] = []
        self._started = 0
        self.api, self.base = start_api(env, log_dir)
        self.add_worker()

    def add_worker(self) -> Service:
        self._started += 1
        worker = start_worker(self.env, self.log_dir, name=f"worker-{self._started}")
        self.workers.append(worker)
        return worker

    def kill_worker(self) -> None:
        old = self.workers.pop(0)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(old.proc.pid, signal.SIGKILL)
        old.proc.wait(10)
        old.stop()
        self.add_worker()

    def redeploy_worker(self) -> threading.Thread:
        """New worker up, old one SIGTERMed; returns the thread waiting for the old to exit."""
        old = self.workers.pop(0)
        self.add_worker()
        old.signal(signal.SIGTERM)
        thread = threading.Thread(target=old.stop, args=(90,), daemon=True)
        thread.start()
        return thread

    def alive(self) -> bool:
        return all(w.proc.poll() is None for w in self.workers) and self.api.proc.poll() is None

    def stop(self) -> None:
        for worker in self.workers:
            worker.signal(signal.SIGTERM)
        self.api.stop()
        for worker in self.workers:
            worker.stop()


# The verdict -----------------------------------------------------------------------------


@dataclass
class Verdict:
    """What one scenario proved, in the shape of ``docs/reliability/chaos-report.json``."""

    accepted: int
    succeeded: int
    failed: int
    cancelled: int
    lost: int
    duplicated: int
    wrong_pages: int
    http_500: int
    http_503: int
    max_terminal_s: float
    statuses: dict[str, int]
    failures: dict[str, int]
    submitted: int
    unaccepted: int
    wall_s: float = 0.0

    def report(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "succeeded": self.succeeded,
            "failed": self.failed,
            "lost": self.lost,
            "duplicated": self.duplicated,
            "http_500": self.http_500,
            "http_503": self.http_503,
            "max_terminal_s": round(self.max_terminal_s, 1),
            "failures_by_code": self.failures,
            "http_statuses": self.statuses,
            "wall_s": round(self.wall_s, 1),
        }


_JOB_ROWS = """
SELECT j.id::text AS id, j.status, j.error_code, j.pages_total, j.pages_done,
       j.parts_total, j.parts_done,
       (SELECT count(*) FROM job_pages p WHERE p.job_id = j.id) AS page_rows,
       extract(epoch FROM j.finished_at - j.created_at) AS terminal_s
FROM jobs j WHERE j.id = ANY(CAST(:ids AS uuid[]))
"""


def job_rows(database_url: str, ids: list[str]) -> dict[str, Any]:
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg2://", 1))
    try:
        with engine.connect() as conn:
            return {row.id: row for row in conn.execute(text(_JOB_ROWS), {"ids": ids})}
    finally:
        engine.dispose()


def wait_terminal(database_url: str, ids: list[str], timeout: float) -> dict[str, Any]:
    """The accepted jobs' rows once all are terminal, or as they are at ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(Exception):
            rows = job_rows(database_url, ids)
            if len(rows) == len(ids) and all(r.status in TERMINAL for r in rows.values()):
                return rows
        if time.monotonic() > deadline:
            return job_rows(database_url, ids)
        time.sleep(0.5)


def verdict(load: Load, database_url: str, timeout: float) -> Verdict:
    accepted = load.accepted()
    rows = wait_terminal(database_url, list(accepted), timeout)
    counts = Counter(r.status for r in rows.values())
    lost = sum(1 for i in accepted if i not in rows or rows[i].status not in TERMINAL)
    duplicated = wrong = 0
    for job_id, row in rows.items():
        if row.status != "succeeded":
            continue
        if not (row.pages_done == row.page_rows == row.pages_total):
            duplicated += 1
        if row.parts_done != row.parts_total or row.pages_total != accepted[job_id].pages:
            wrong += 1
    statuses = load.status_counts()
    finished = [float(r.terminal_s) for r in rows.values() if r.terminal_s is not None]
    return Verdict(
        accepted=len(accepted),
        succeeded=counts["succeeded"],
        failed=counts["failed"],
        cancelled=counts["cancelled"],
        lost=lost,
        duplicated=duplicated,
        wrong_pages=wrong,
        http_500=sum(n for code, n in statuses.items() if code >= 500 and code != 503),
        http_503=statuses[503],
        max_terminal_s=max(finished, default=0.0),
        statuses={str(k): v for k, v in sorted(statuses.items())},
        failures=dict(Counter(r.error_code for r in rows.values() if r.status == "failed")),
        submitted=len(load.submissions),
        unaccepted=sum(1 for s in load.submissions if not s.job_id),
    )


@contextlib.contextmanager
def every(interval_s: float, action: Any, *, first_after_s: float | None = None) -> Iterator[list]:
    """Run ``action()`` every ``interval_s`` in a thread while the block runs; yields the
    list of what each call returned (exceptions are kept, not raised)."""
    results: list[Any] = []
    stop = threading.Event()

    def loop() -> None:
        if stop.wait(interval_s if first_after_s is None else first_after_s):
            return
        while True:
            try:
                results.append(action())
            except Exception as exc:
                results.append(exc)
            if stop.wait(interval_s):
                return

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield results
    finally:
        stop.set()
        thread.join(120)


# A scenario ------------------------------------------------------------------------------

#: What every scenario runs with: short timings so recovery happens within seconds.
CHAOS_ENV = {
    "LOG_LEVEL": "info",
    "WORKER_PROCESSES": "1",
    "WORKER_THREADS": "3",
    "WORKER_SHUTDOWN_TIMEOUT_S": "10",
    "WEB_CONCURRENCY": "2",
    "WEB_THREADS": "8",
    "PART_PAGES": "10",
    "JOB_TIME_LIMIT_S": "30",
    "SWEEP_INTERVAL_S": "1",
    "STUCK_AFTER_S": "5",
    "REQUEUE_AFTER_S": "5",
    "HEARTBEAT_INTERVAL_S": "1",
    "BROKER_HEARTBEAT_TIMEOUT_S": "5",
    "DB_POOL_TIMEOUT": "2",
    "WEBHOOK_ALLOW_PRIVATE": "true",
    **NO_KEY_LIMITS,
    "WEBHOOK_MAX_ATTEMPTS": "2",
}


class Scenario:
    """One scenario's Folio: its database, Redis, processes, load and checks."""

    def __init__(
        self,
        name: str,
        pg: Postgres,
        secrets: Secrets,
        receiver: WebhookReceiver,
        log_dir: Path,
        report: dict[str, Any],
    ) -> None:
        self.name = name
        self.pg = pg
        self.secrets = secrets
        self.log_dir = log_dir
        self.report = report
        self.database = f"folio_{name}_{uuid.uuid4().hex[:6]}"
        self.database_url = pg.create_database(self.database)
        apply(Settings.from_env({"DATABASE_URL": self.database_url}))
        self.redis = RedisServer(secrets.redis_password, log_dir)
        self.docs = mixed_docs(secrets.pdf_password, receiver.url)
        self.cluster: Cluster | None = None

    def env(self, **overrides: str) -> dict[str, str]:
        return {
            **CHAOS_ENV,
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis.url(),
            "REDIS_NAMESPACE": f"chaos-{self.name}",
            "API_KEYS": f"chaos:{self.secrets.api_key},other:{self.secrets.other_key}",
            "WEBHOOK_SECRET": self.secrets.webhook_secret,
            **overrides,
        }

    def start(self, **overrides: str) -> tuple[Cluster, Load]:
        self.cluster = Cluster(self.env(**overrides), self.log_dir)
        return self.cluster, Load(self.cluster.base, self.secrets.api_key, self.docs)

    def finish(
        self,
        load: Load,
        *,
        timeout: float = 150.0,
        started: float,
        allowed_failures: tuple[str, ...] = (),
    ) -> Verdict:
        """Wait for every accepted job, record the figures, and check the invariants."""
        result = verdict(load, self.database_url, timeout)
        result.wall_s = time.monotonic() - started
        assert self.cluster is not None
        alive = self.cluster.alive()
        self.cluster.stop()
        self.redis.stop()
        self.report[self.name] = result.report()
        print(f"\n{self.name}: {json.dumps(result.report())}")
        leaks = leaked_secrets(self.log_dir, self.secrets.values())
        assert alive, "the API or a worker died"
        assert result.lost == 0, result
        assert result.duplicated == 0 and result.wrong_pages == 0, result
        assert result.http_500 == 0, result
        assert result.unaccepted == 0, result
        assert set(result.failures) <= set(allowed_failures), result.failures
        assert not leaks, leaks
        return result
