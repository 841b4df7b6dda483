"""Hostile input through the real API and worker: the whole corpus, deep nesting, slow-loris.

Every corpus file ends the way its MANIFEST expects when uploaded over HTTP (``ok`` →
succeeded; ``ok-partial`` → succeeded or failed within its limits; ``error:encrypted`` →
``password_required`` without a password, ``wrong_password`` with a wrong one, succeeded
with the one from the notes; ``error:invalid`` → 415 at upload or failed within its
limits), and the API and the worker are alive afterwards. (``services/worker/tests/
test_corpus.py`` runs the corpus through the worker alone.)
"""

from __future__ import annotations

import csv
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from testsupport.cluster import Cluster, Scenario

pytestmark = pytest.mark.slow  # a cluster of real API and worker processes

LIMIT_CODES = {"invalid_pdf", "timeout", "memory_limit"}


@pytest.fixture(scope="module")
def folio(
    pg: Any,
    chaos_secrets: Any,
    receiver: Any,
    report: dict[str, Any],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Scenario, Cluster]]:
    scenario = Scenario(
        "hostile_input", pg, chaos_secrets, receiver, tmp_path_factory.mktemp("hostile"), report
    )
    cluster, _ = scenario.start(WORKER_THREADS="2")
    yield scenario, cluster
    alive = cluster.alive()
    cluster.stop()
    scenario.redis.stop()
    assert alive, "the API or the worker died"
    log = "\n".join(p.read_text(errors="replace") for p in scenario.log_dir.glob("*.log"))
    assert '"status": 500' not in log
    for name, value in chaos_secrets.values().items():
        assert value not in log, f"the {name} is in a log line"


def upload(base: str, key: str, pdf: bytes, filename: str, **fields: str) -> requests.Response:
    return requests.post(
        f"{base}/api/v1/jobs",
        files={"file": (filename, pdf, "application/pdf")},
        data=fields,
        headers={"Authorization": f"Bearer {key}"},
        timeout=60,
    )


def wait(base: str, key: str, job_id: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job: dict[str, Any] = requests.get(
            f"{base}/api/v1/jobs/{job_id}",
            headers={"Authorization": f"Bearer {key}", "Prefer": "wait=20"},
            timeout=30,
        ).json()
        if job["status"] in ("succeeded", "failed", "cancelled"):
            return job
    raise TimeoutError(job_id)


def outcome(job: dict[str, Any]) -> tuple[str, str | None]:
    return job["status"], (job["error"] or {}).get("code")


def manifest(corpus: Path) -> list[dict[str, str]]:
    with open(corpus / "MANIFEST.tsv", newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


@pytest.mark.corpus
def test_corpus_through_the_api(folio, corpus):
    scenario, cluster = folio
    key = scenario.secrets.api_key
    submitted: list[tuple[str, str, str, set[tuple[str, str | None]]]] = []
    refused: list[str] = []
    for row in manifest(corpus):
        pdf = (corpus / row["file"]).read_bytes()
        expected = row["expected_outcome"]
        tries: list[tuple[dict[str, str], set[tuple[str, str | None]]]]
        if expected == "ok":
            tries = [({}, {("succeeded", None)})]
        elif expected == "ok-partial":
            tries = [({}, {("succeeded", None)} | {("failed", c) for c in LIMIT_CODES})]
        elif expected == "error:invalid":
            tries = [({}, {("failed", c) for c in LIMIT_CODES})]
        else:
            password = re.search(r"user password '([^']+)'", row["notes"])
            assert password, row["file"]
            tries = [
                ({}, {("failed", "password_required")}),
                ({"password": "not-" + password.group(1)}, {("failed", "wrong_password")}),
                ({"password": password.group(1)}, {("succeeded", None)}),
            ]
        for fields, allowed in tries:
            response = upload(cluster.base, key, pdf, row["file"], **fields)
            if response.status_code == 415 and expected == "error:invalid":
                refused.append(row["file"])
                continue
            assert response.status_code == 202, (row["file"], response.text)
            submitted.append((row["file"], response.json()["id"], str(fields), allowed))
    wrong = []
    for name, job_id, fields, allowed in submitted:
        job = wait(cluster.base, key, job_id)
        if outcome(job) not in allowed:
            wrong.append((name, fields, outcome(job), job["error"]))
    assert not wrong, wrong
    assert cluster.alive()
    print(f"\ncorpus: {len(submitted)} jobs, refused at upload: {refused}")


def deeply_nested_pdf(depth: int = 10_000) -> bytes:
    """A one-page PDF with an array nested ``depth`` deep in an object and in its content."""
    deep = b"[" * depth + b"]" * depth
    content = b"BT /F1 12 Tf 72 720 Td (nested) Tj ET " + deep
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << >> /Deep 5 0 R >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        deep,
    ]
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def test_10000_deep_nesting_fails_with_its_code_or_succeeds(folio):
    scenario, cluster = folio
    key = scenario.secrets.api_key
    response = upload(cluster.base, key, deeply_nested_pdf(), "deep.pdf")
    assert response.status_code == 202, response.text
    job = wait(cluster.base, key, response.json()["id"])
    assert outcome(job) in {("succeeded", None)} | {("failed", c) for c in LIMIT_CODES}, job
    assert cluster.alive()


def test_slow_loris_body_is_cut_off(folio):
    """A body trickling in a byte every second is refused once its time is up (about
    30 s for a small one), and the API serves others meanwhile."""
    scenario, cluster = folio
    host, port = cluster.base.removeprefix("http://").split(":")
    head = (
        "POST /api/v1/jobs HTTP/1.1\r\nHost: folio\r\n"
        f"Authorization: Bearer {scenario.secrets.api_key}\r\n"
        "Content-Type: application/pdf\r\nContent-Length: 4096\r\n\r\n"
    ).encode()
    started = time.monotonic()
    answer = b""
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(head + b"%PDF-1.7\n")
        while time.monotonic() - started < 60:
            try:
                sock.sendall(b" ")
            except OSError:
                break
            sock.settimeout(1)
            try:
                answer = sock.recv(4096)
            except TimeoutError:
                assert requests.get(f"{cluster.base}/api/v1/health/live", timeout=5).ok
                continue
            break
    elapsed = time.monotonic() - started
    assert answer.startswith((b"HTTP/1.1 400", b"HTTP/1.1 408")), answer[:200]
    assert 25 < elapsed < 45, elapsed
