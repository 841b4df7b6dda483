"""The worker image in a memory-limited container, as a Railway replica: the corpus's
pathological PDFs beside its ordinary ones. ``uv run python deploy/railway/memory_check.py``

Needs podman (see deploy/railway/image-check.sh), the worker image (``IMAGE``, default
``folio-worker``), PostgreSQL and Redis on localhost and ../shared/corpus. It shows:

1. production's 2 processes x 2 threads do not fit 1 GB: the worker refuses to start,
   one line;
2. 1 process x 2 threads in 1 GB: the worker lowers its sandboxes' limit, only the bomb
   fails (``memory_limit``), and the container is not OOM-killed (cgroup failcnt 0).
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from folio_common.database import Database  # noqa: E402
from folio_common.lifecycle import JobStatus  # noqa: E402
from folio_common.migrate import apply  # noqa: E402
from folio_common.settings import Settings  # noqa: E402

from conftest import create_database, drop_database  # noqa: E402
from testsupport import jobs as tj  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus"
IMAGE = os.environ.get("IMAGE", "folio-worker")
MEMORY = "1g"
REDIS = "redis://127.0.0.1:6379/0"


def podman(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["podman", *args], capture_output=True, text=True, check=check)


def logs(container: str) -> str:
    """The container's output; Dramatiq's worker processes log through stderr."""
    done = podman("logs", container)
    return done.stdout + done.stderr


def run_args(url: str, namespace: str, processes: int) -> list[str]:
    env = {
        "FOLIO_ENV": "production",
        "DATABASE_URL": url,
        "DB_SSLMODE": "disable",
        "REDIS_URL": REDIS,
        "REDIS_NAMESPACE": namespace,
        "API_KEYS": "check:memory-check-key-0123456789",
        "WORKER_PROCESSES": str(processes),
        "WORKER_THREADS": "2",
    }
    flags = ["--runtime", "runc", "run", "--network", "host"]
    flags += ["--memory", MEMORY, "--memory-swap", MEMORY]
    flags += ["--ulimit", "nofile=4096:4096", "--ulimit", "nproc=4096:4096"]
    return flags + [arg for k, v in env.items() for arg in ("-e", f"{k}={v}")]


def main() -> int:
    name = f"folio_memcheck_{uuid.uuid4().hex[:8]}"
    url = create_database(name)
    namespace = f"folio-memcheck-{name}"
    apply(Settings.from_env({"DATABASE_URL": url}))
    settings = Settings.from_env(
        {"DATABASE_URL": url, "REDIS_URL": REDIS, "REDIS_NAMESPACE": namespace}
    )
    db = Database.from_settings(settings, application_name="folio-memory-check")
    container = f"folio-memcheck-{uuid.uuid4().hex[:6]}"
    try:
        refused = podman(*run_args(url, namespace, 2), "--rm", IMAGE, check=False)
        print(f"2 x 2 in {MEMORY}: exit {refused.returncode}")
        print("  " + next((x for x in refused.stdout.splitlines() if "cannot hold" in x), "?"))

        podman(*run_args(url, namespace, 1), "-d", "--name", container, IMAGE)
        deadline = time.monotonic() + 120
        while "worker ready" not in logs(container):
            if time.monotonic() > deadline:
                print(logs(container)[-2000:])
                return 1
            time.sleep(1)
        lowered = [x for x in logs(container).splitlines() if "lowered" in x]
        print(f"1 x 2 in {MEMORY}: " + (lowered[0] if lowered else "limit kept"))

        rows = list(csv.DictReader((CORPUS / "MANIFEST.tsv").open(), delimiter="\t"))
        chosen = [r for r in rows if r["category"] in ("text", "pathological")]
        submitted = {tj.submit(settings, db, (CORPUS / r["file"]).read_bytes()): r for r in chosen}
        outcomes: dict[tuple[str, str, str], int] = {}
        for job_id, row in submitted.items():
            job = tj.wait_terminal(db, job_id, timeout=600)
            key = (row["file"], job.status, job.error_code or "")
            outcomes[key] = outcomes.get(key, 0) + 1
        for (file, status, code), count in sorted(outcomes.items()):
            print(f"  {count} x {file}: {status} {code}")
        failed = {f for (f, s, _), _n in outcomes.items() if s == JobStatus.FAILED}
        print(f"  failed: {sorted(failed)}")

        state = json.loads(podman("inspect", container).stdout)[0]["State"]
        cgroup = Path("/sys/fs/cgroup/memory") / state["CgroupPath"].lstrip("/")
        peak = int((cgroup / "memory.max_usage_in_bytes").read_text()) // 2**20
        failcnt = (cgroup / "memory.failcnt").read_text().strip()
        print(
            f"  container running={state['Running']} OOMKilled={state['OOMKilled']} "
            f"peak={peak} MB failcnt={failcnt}"
        )
        return 0 if state["Running"] and not state["OOMKilled"] else 1
    finally:
        podman("rm", "-f", "-t", "30", container, check=False)
        db.close()
        drop_database(name)


if __name__ == "__main__":
    sys.exit(main())
