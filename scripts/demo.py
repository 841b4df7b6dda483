"""``make demo``: submit a PDF to Folio and print its text.

``python scripts/demo.py [file.pdf]``. Without a file it generates a 3-page PDF. If
nothing answers on ``http://127.0.0.1:$PORT`` (default 8000) it starts Folio itself
(``scripts/up.py``) for the demo and stops it afterwards, so one command shows the whole
flow. The API key is ``FOLIO_API_KEY``, else the first of ``API_KEYS``, else the local
development key.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEV_KEY = "folio-dev-key"
#: Seconds to wait for a Folio started by the demo to answer.
START_TIMEOUT_S = 120
#: Seconds the demo waits for the job in all.
JOB_TIMEOUT_S = 180


def api_key() -> str:
    if os.environ.get("FOLIO_API_KEY"):
        return os.environ["FOLIO_API_KEY"]
    first = os.environ.get("API_KEYS", "").split(",")[0]
    return first.partition(":")[2].strip() or DEV_KEY


def call(
    method: str,
    url: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 60,
) -> tuple[int, dict[str, str], bytes]:
    # Only ever http://127.0.0.1:$PORT, built above.
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def is_up(base: str) -> bool:
    try:
        return call("GET", f"{base}/api/v1/health/live", timeout=2)[0] == 200
    except OSError:
        return False


def sample_pdf() -> tuple[str, bytes]:
    sys.path.insert(0, str(ROOT))
    from testsupport.pdfs import make_pdf

    return "folio-demo.pdf", make_pdf(3, title="Folio demo")


def multipart(filename: str, data: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = (
        (
            f"--{boundary}\r\n"
            f'Content-Disposition: form-data; name="file"; filename="{filename}"\r\n'
            "Content-Type: application/pdf\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


def run_demo(base: str, filename: str, pdf: bytes) -> int:
    auth = {"Authorization": f"Bearer {api_key()}"}
    body, content_type = multipart(filename, pdf)
    print(f"→ POST {base}/api/v1/jobs  ({filename}, {len(pdf)} bytes, Prefer: wait=30)")
    status, headers, raw = call(
        "POST",
        f"{base}/api/v1/jobs",
        body,
        {**auth, "Content-Type": content_type, "Prefer": "wait=30"},
    )
    job: dict[str, Any] = json.loads(raw)
    if status not in (200, 202):
        print(f"✗ {status}: {job.get('detail', job)}")
        return 1
    print(f"← {status}  job {job['id']}  status={job['status']}")
    deadline = time.monotonic() + JOB_TIMEOUT_S
    while job["status"] in ("queued", "processing") and time.monotonic() < deadline:
        _, _, raw = call("GET", f"{base}{headers['Location']}", None, {**auth, "Prefer": "wait=30"})
        job = json.loads(raw)
        progress = job["progress"]
        print(f"  status={job['status']} pages {progress['pages_done']}/{progress['pages_total']}")
    if job["status"] != "succeeded":
        print(f"✗ job {job['status']}: {job.get('error')}")
        return 1
    status, _, text = call(
        "GET", f"{base}/api/v1/jobs/{job['id']}/result", None, {**auth, "Accept": "text/plain"}
    )
    print(f"✓ {job['page_count']} pages\n")
    for number, page in enumerate(text.decode().split("\f"), start=1):
        print(f"--- page {number} ---\n{page.strip()}\n")
    return 0 if status == 200 else 1


def main(argv: list[str]) -> int:
    port = os.environ.get("PORT", "8000")
    base = f"http://127.0.0.1:{port}"
    if argv:
        path = Path(argv[0])
        filename, pdf = path.name, path.read_bytes()
    else:
        filename, pdf = sample_pdf()
    folio = None
    if not is_up(base):
        print(f"Nothing answers on {base}: starting Folio (scripts/up.py) for the demo…")
        folio = subprocess.Popen(
            [sys.executable, str(ROOT / "scripts" / "up.py")], cwd=ROOT, start_new_session=True
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while not is_up(base):
            if folio.poll() is not None or time.monotonic() > deadline:
                print("✗ Folio did not start; see its output above")
                return 1
            time.sleep(0.5)
    try:
        return run_demo(base, filename, pdf)
    finally:
        if folio is not None:
            print("Stopping the Folio started for the demo…")
            folio.send_signal(signal.SIGTERM)
            folio.wait(90)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
