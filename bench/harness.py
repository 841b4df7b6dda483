"""The private Folio stack every benchmark runs against, and uploads through its API.

A :class:`Stack` owns one database (created, migrated, dropped) and one Redis namespace
(its keys deleted at the end), and the real processes started on them: the API under
gunicorn and ``folio-worker run``. Benchmarks measure through it and report a
:class:`Report`: their figures plus the baseline measured in the same run.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import redis
import requests
from folio_common.lifecycle import TERMINAL
from folio_common.migrate import apply
from folio_common.settings import Settings
from sqlalchemy import create_engine, text

from testsupport import procs

ROOT = Path(__file__).resolve().parents[1]
#: Server of the benchmark databases (an admin database to CREATE/DROP from).
ADMIN_URL = os.environ.get("FOLIO_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("FOLIO_BENCH_REDIS", "redis://127.0.0.1:6379/0")
API_KEY = "bench-key-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {API_KEY}"}


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
            **procs.NO_KEY_LIMITS,
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
            row = conn.execute(sql, {"terminal": sorted(TERMINAL), "ids": list(job_ids)}).one()
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
    ocr: str | None = None,
    timeout: float = 60,
) -> dict[str, Any]:
    """``POST /api/v1/jobs`` with a raw PDF body; the job document."""
    headers = {**AUTH, "Content-Type": "application/pdf"}
    if wait_s is not None:
        headers["Prefer"] = f"wait={wait_s}"
    resp = session.post(
        f"{base}/api/v1/jobs",
        params={"engine": engine} | ({"ocr": ocr} if ocr else {}),
        data=body,
        headers=headers,
        timeout=timeout,
    )
    if resp.status_code not in (200, 202):
        raise RuntimeError(f"upload refused: {resp.status_code} {resp.text[:300]}")
    document: dict[str, Any] = resp.json()
    return document


def submit_all(
    base: str,
    bodies: Sequence[bytes],
    *,
    engine: str,
    ocr: str | None = None,
    clients: int = 4,
) -> list[str]:
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
                ids[index] = submit(session, base, body, engine=engine, ocr=ocr)["id"]

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if not all(ids):
        raise RuntimeError("some uploads failed (see the exception above)")
    return ids
