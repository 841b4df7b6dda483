"""Client commands against a real API (gunicorn) and worker, plus ``folio health``."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from conftest import TEST_API_KEY
from sqlalchemy import text
from testsupport.pdfs import make_pdf, page_text
from testsupport.procs import BIN, folio_stack, free_port

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def base_url(env, tmp_path_factory):
    logs = tmp_path_factory.mktemp("cli-services")
    with folio_stack(env, logs) as base:
        yield base


@pytest.fixture
def client(folio, base_url):
    def run(*args: str, **kwargs):
        extra = {"FOLIO_API_URL": base_url, "FOLIO_API_KEY": TEST_API_KEY}
        return folio(*args, extra_env={**extra, **kwargs.pop("extra_env", {})}, **kwargs)

    return run


def test_submit_wait_status_result_and_jobs(client, db, tmp_path):
    paths = []
    for pages in (2, 3):
        path = tmp_path / f"doc-{pages}.pdf"
        path.write_bytes(make_pdf(pages))
        paths.append(str(path))
    submit = client("submit", *paths, "--wait", "--json", "--progress")
    assert submit.returncode == 0, submit.stderr
    submitted = [json.loads(line) for line in submit.stdout.splitlines()]
    assert [j["status"] for j in submitted] == ["succeeded", "succeeded"]
    assert [j["page_count"] for j in submitted] == [2, 3]
    assert "jobs done" in submit.stderr  # the progress bar
    first, second = (j["id"] for j in submitted)

    status = client("status", second)
    assert status.returncode == 0, status.stderr
    assert status.stdout.split()[:2] == [second, "succeeded"]

    text = client("result", second, "--text")
    assert text.returncode == 0, text.stderr
    assert all(page_text(n) in text.stdout for n in (1, 2, 3))
    result = json.loads(client("result", first).stdout)
    assert [p["number"] for p in result["pages"]] == [1, 2]

    listed = client("jobs", "--status", "succeeded", "--json")
    assert listed.returncode == 0, listed.stderr
    assert {first, second} <= {json.loads(line)["id"] for line in listed.stdout.splitlines()}


def test_a_failed_job_exits_1(client, db, tmp_path):
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.7\nthis is not really a PDF\n")
    submit = client("submit", str(broken), "--wait")
    assert submit.returncode == 1, submit.stderr
    assert "failed" in submit.stdout and "invalid_pdf" in submit.stdout
    job_id = submit.stdout.split()[0]
    assert client("result", job_id).returncode == 1  # 409: no result


def test_usage_and_unreachable_exit_codes(client, tmp_path):
    assert client("submit", str(tmp_path / "missing.pdf")).returncode == 2
    refused = client("jobs", extra_env={"FOLIO_API_KEY": "wrong-key-0123456789"})
    assert refused.returncode == 2 and "refused the key" in refused.stderr
    down = client("jobs", "--api-url", f"http://127.0.0.1:{free_port()}")
    assert down.returncode == 3 and "cannot reach the API" in down.stderr


def test_health_with_a_live_worker(folio, base_url, db):
    health = folio("health", "--json")
    assert health.returncode == 0, health.stdout + health.stderr
    doc = json.loads(health.stdout)
    assert doc["status"] == "ok" and doc["workers_alive"] >= 1
    assert doc["checks"]["postgres"]["status"] == "ok"


def test_a_batch_goes_on_past_a_refused_file(client, db, tmp_path):
    files = {"a.pdf": make_pdf(2), "bad.pdf": b"not a PDF at all\n", "b.pdf": make_pdf(3)}
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    names = list(files)
    paths = [str(tmp_path / name) for name in names]

    waited = client("submit", *paths, "--wait")
    assert waited.returncode == 1, waited.stdout + waited.stderr
    lines = [line.split("  ") for line in waited.stdout.splitlines()]
    assert [(fields[1], fields[2]) for fields in lines] == [
        ("succeeded", "a.pdf"),
        ("succeeded", "b.pdf"),
    ]
    assert "bad.pdf" in waited.stderr and "(415)" in waited.stderr
    assert "Traceback" not in waited.stderr
    with db.engine.connect() as conn:
        found = conn.execute(
            text("SELECT status FROM jobs WHERE id = ANY(CAST(:ids AS uuid[]))"),
            {"ids": [fields[0] for fields in lines]},
        ).scalars()
        assert sorted(found) == ["succeeded", "succeeded"]

    # Without --wait every accepted id is printed as it is accepted; the exit code still
    # says a file was refused.
    quick = client("submit", *paths, "--json")
    assert quick.returncode == 1, quick.stderr
    accepted = [json.loads(line) for line in quick.stdout.splitlines()]
    assert [j["filename"] for j in accepted] == ["a.pdf", "b.pdf"]
    assert all(j["status"] in ("queued", "processing", "succeeded") for j in accepted)


def test_a_batch_with_every_file_accepted_exits_0(client, tmp_path):
    path = tmp_path / "one.pdf"
    path.write_bytes(make_pdf(1))
    assert client("submit", str(path)).returncode == 0


def test_submit_with_pages_prints_the_pages_extracted(client, tmp_path):
    path = tmp_path / "five.pdf"
    path.write_bytes(make_pdf(5))
    submit = client("submit", str(path), "--pages", "1-3", "--wait")
    assert submit.returncode == 0, submit.stderr
    assert "3 of 5 pages" in submit.stdout
    job_id = submit.stdout.split()[0]
    result = json.loads(client("result", job_id).stdout)
    assert [p["number"] for p in result["pages"]] == [1, 2, 3]


def test_submit_with_ocr_options_reads_every_page_by_ocr(client, tmp_path):
    path = tmp_path / "one.pdf"
    path.write_bytes(make_pdf(1))
    submit = client("submit", str(path), "--ocr", "force", "--languages", "eng", "--wait")
    assert submit.returncode == 0, submit.stderr
    job_id = submit.stdout.split()[0]
    status = json.loads(client("status", job_id, "--json").stdout)
    assert (status["ocr"], status["languages"]) == ("force", "eng")
    result = json.loads(client("result", job_id).stdout)
    assert result["pages"][0]["method"] == "ocr" and result["ocr"]["pages"] == [1]
    refused = client("submit", str(path), "--languages", "tlh")
    assert refused.returncode == 1 and "tlh" in refused.stderr


def run_into_closed_pipe(base_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``folio ARGS`` whose stdout is a pipe nobody reads: its read end is closed first."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    environ = {k: v for k, v in os.environ.items() if not k.startswith("FOLIO_API_")}
    try:
        return subprocess.run(
            [str(BIN / "folio"), *args],
            env={**environ, "FOLIO_API_URL": base_url, "FOLIO_API_KEY": TEST_API_KEY},
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write_end)


def test_a_closed_pipe_ends_quietly(client, base_url, tmp_path):
    path = tmp_path / "long.pdf"
    path.write_bytes(make_pdf(20, lines=60))  # ~90 KB of text: more than a pipe holds
    submit = client("submit", str(path), "--engine", "pdfium", "--wait")
    assert submit.returncode == 0, submit.stderr
    job_id = submit.stdout.split()[0]

    for args in (["result", job_id, "--text"], ["result", job_id], ["status", job_id]):
        closed = run_into_closed_pipe(base_url, *args)
        assert closed.stderr == "", closed.stderr  # no BrokenPipeError traceback
        assert closed.returncode == 141, args

    # As a user types it: the first line, then the reader goes away.
    env = {**os.environ, "FOLIO_API_URL": base_url, "FOLIO_API_KEY": TEST_API_KEY}
    shell = subprocess.run(
        ["bash", "-c", f'"{BIN / "folio"}" result {job_id} --text | head -1'],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert shell.stdout.startswith(page_text(1)), shell.stdout
    assert "Traceback" not in shell.stderr and "BrokenPipe" not in shell.stderr, shell.stderr


@pytest.mark.corpus
def test_text_of_pages_with_form_feeds_splits_into_those_pages(client, corpus):
    # PDFium reports form feeds inside pages 9 and 15 of this document (2 and 14 of them).
    path = corpus / "GeoTopo-komprimiert.pdf"
    submit = client("submit", str(path), "--pages", "9,15", "--engine", "pdfium", "--wait")
    assert submit.returncode == 0, submit.stderr
    job_id = submit.stdout.split()[0]
    pages = json.loads(client("result", job_id).stdout)["pages"]
    assert [p["number"] for p in pages] == [9, 15]
    assert all("\f" in p["text"] for p in pages)  # the JSON keeps the text as extracted
    plain = client("result", job_id, "--text").stdout
    assert len(plain.rstrip("\n").split("\f")) == 2
