"""What one upload and one page cost the shared services: PostgreSQL round trips, bytes
and backend CPU; Redis round trips and bytes; API and worker CPU — the inputs of the
capacity model in docs/performance.md.

The API and the worker each talk to PostgreSQL and Redis through counting proxies
(:class:`testsupport.pgproxy.PgProxy`, unarmed: one client write = one round trip), so
their traffic is counted apart from each other and from other users of the same servers.
PostgreSQL's share of the CPU is read from the stack's own backends (/proc, by the pids
``pg_stat_activity`` gives for the benchmark's database).
"""

from __future__ import annotations

import time
from typing import Any

import requests
from sqlalchemy import text

from testsupport.pgproxy import PgProxy

from .documents import pdf_bytes
from .harness import ADMIN_URL, REDIS_URL, Stack, submit
from .idle import cpu_seconds
from .report import Report
from .rss import descendants

UPLOADS = 300
SMALL_JOBS = 60
BIG_PAGES = 2000  # 10 parts at PART_PAGES=20: a PDFium part holds 200 pages
IDLE_S = 10.0


def _backend_pids(stack: Stack, application: str) -> list[int]:
    with stack._engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT pid FROM pg_stat_activity WHERE datname = :db AND application_name = :app"
            ),
            {"db": stack.database, "app": application},
        )
        return [int(r[0]) for r in rows]


def _counters(pg: PgProxy, rds: PgProxy) -> dict[str, int]:
    p, r = pg.counters(), rds.counters()
    return {"pg_rt": p[0], "pg_up": p[1], "pg_down": p[2], "redis_rt": r[0], "redis_up": r[1],
            "redis_down": r[2]}  # fmt: skip


def _delta(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {k: after[k] - before[k] for k in after}


def run() -> Report:
    report = Report("capacity inputs: what an upload and a page cost PostgreSQL and Redis")
    pg_host, pg_port = "127.0.0.1", int(ADMIN_URL.rsplit(":", 1)[1].split("/")[0])
    redis_port = int(REDIS_URL.rsplit(":", 1)[1].split("/")[0])
    redis_db = REDIS_URL.rsplit("/", 1)[1]
    figures: dict[str, Any] = {}
    with (
        Stack("capacity") as stack,
        PgProxy((pg_host, pg_port)) as api_pg,
        PgProxy(("127.0.0.1", redis_port)) as api_redis,
        PgProxy((pg_host, pg_port)) as worker_pg,
        PgProxy(("127.0.0.1", redis_port)) as worker_redis,
        requests.Session() as session,
    ):
        api, base = stack.api(
            DATABASE_URL=api_pg.url(stack.database_url),
            REDIS_URL=f"redis://127.0.0.1:{api_redis.port}/{redis_db}",
            WEB_CONCURRENCY="1",
        )
        body = pdf_bytes(1)
        for _ in range(20):  # warm: pools filled, scripts loaded
            submit(session, base, body, engine="pdfium")
        api_pids = descendants(api.proc.pid)
        pg_pids = _backend_pids(stack, "folio-api")
        before, cpu0, pg0 = (
            _counters(api_pg, api_redis),
            cpu_seconds(api_pids),
            cpu_seconds(pg_pids),
        )
        t0 = time.monotonic()
        for _ in range(UPLOADS):
            submit(session, base, body, engine="pdfium")
        elapsed = time.monotonic() - t0
        upload = _delta(_counters(api_pg, api_redis), before)
        api_cpu = cpu_seconds(api_pids) - cpu0
        pg_cpu = cpu_seconds(_backend_pids(stack, "folio-api")) - pg0
        figures |= {
            "capacity_upload_bytes": len(body),
            "capacity_upload_pg_round_trips": round(upload["pg_rt"] / UPLOADS, 2),
            "capacity_upload_pg_bytes": round((upload["pg_up"] + upload["pg_down"]) / UPLOADS),
            "capacity_upload_redis_round_trips": round(upload["redis_rt"] / UPLOADS, 2),
            "capacity_upload_redis_bytes": round(
                (upload["redis_up"] + upload["redis_down"]) / UPLOADS
            ),
            "capacity_upload_api_cpu_ms": round(1000 * api_cpu / UPLOADS, 2),
            "capacity_upload_pg_cpu_ms": round(1000 * pg_cpu / UPLOADS, 3),
            "capacity_upload_serial_ms": round(1000 * elapsed / UPLOADS, 2),
        }

        worker = stack.worker(
            2,
            DATABASE_URL=worker_pg.url(stack.database_url),
            REDIS_URL=f"redis://127.0.0.1:{worker_redis.port}/{redis_db}",
        )
        ids = [submit(session, base, body, engine="pdfium")["id"] for _ in range(4)]
        stack.wait_finished(ids, timeout=120)
        time.sleep(2)
        idle0, w0 = _counters(worker_pg, worker_redis), time.monotonic()
        time.sleep(IDLE_S)
        idle = _delta(_counters(worker_pg, worker_redis), idle0)
        idle_s = time.monotonic() - w0

        def worker_run(bodies: list[bytes], pages: int) -> dict[str, float]:
            before = _counters(worker_pg, worker_redis)
            backends = _backend_pids(stack, "folio-worker")
            tree = descendants(worker.proc.pid)
            cpu_before, tree_before = cpu_seconds(backends), cpu_seconds(tree)
            started = time.monotonic()
            job_ids = [submit(session, base, b, engine="pdfium")["id"] for b in bodies]
            stack.wait_finished(job_ids, timeout=600)
            spent = time.monotonic() - started
            used: dict[str, float] = dict(_delta(_counters(worker_pg, worker_redis), before))
            # Backends opened during the run are missed: the warm-up opened the pools.
            used["pg_cpu_ms"] = 1000 * (cpu_seconds(backends) - cpu_before)
            used["worker_cpu_ms"] = 1000 * (cpu_seconds(tree) - tree_before)
            # Less what the idle worker would have done in the meantime.
            idle_rate = {**idle, "pg_cpu_ms": 0, "worker_cpu_ms": 0}
            per_page = {k: (v - idle_rate[k] * spent / idle_s) / pages for k, v in used.items()}
            return {**per_page, "pages_per_s": pages / spent}

        small = worker_run([pdf_bytes(1)] * SMALL_JOBS, SMALL_JOBS)
        big = worker_run([pdf_bytes(BIG_PAGES)], BIG_PAGES)
        figures |= {
            "capacity_idle_worker_pg_round_trips_per_s": round(idle["pg_rt"] / idle_s, 2),
            "capacity_idle_worker_redis_round_trips_per_s": round(idle["redis_rt"] / idle_s, 2),
            "capacity_job_1page_pg_round_trips": round(small["pg_rt"], 1),
            "capacity_job_1page_pg_bytes": round(small["pg_up"] + small["pg_down"]),
            "capacity_job_1page_redis_round_trips": round(small["redis_rt"], 1),
            "capacity_job_1page_pg_cpu_ms": round(small["pg_cpu_ms"], 3),
            "capacity_page_bigdoc_pg_cpu_ms": round(big["pg_cpu_ms"], 3),
            "capacity_job_1page_worker_cpu_ms": round(small["worker_cpu_ms"], 2),
            "capacity_page_bigdoc_worker_cpu_ms": round(big["worker_cpu_ms"], 2),
            "capacity_jobs_1page_per_s_2proc": round(small["pages_per_s"], 1),
            "capacity_pages_per_s_bigdoc_2proc_pdfium": round(big["pages_per_s"], 1),
            "capacity_page_bigdoc_pg_round_trips": round(big["pg_rt"], 2),
            "capacity_page_bigdoc_pg_bytes": round(big["pg_up"] + big["pg_down"]),
            "capacity_page_bigdoc_redis_round_trips": round(big["redis_rt"], 2),
        }
    report.figures |= figures
    for name, value in figures.items():
        report.row(name.removeprefix("capacity_"), value)
    report.notes.append(
        f"API: 1 gunicorn process, {UPLOADS} sequential 1-page uploads (raw body); worker: "
        f"2 processes, {SMALL_JOBS} 1-page jobs and one {BIG_PAGES}-page job (pdfium), its "
        f"idle traffic over {IDLE_S:.0f} s subtracted"
    )
    return report
