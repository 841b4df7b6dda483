"""Client commands against a real API (gunicorn) and worker, plus ``folio health``."""

from __future__ import annotations

import json

import pytest
from conftest import TEST_API_KEY
from testsupport.pdfs import make_pdf, page_text
from testsupport.procs import folio_stack, free_port

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
