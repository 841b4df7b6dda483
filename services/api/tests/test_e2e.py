"""End to end: real gunicorn and a real worker, PDFs in, text out."""

from __future__ import annotations

import pytest
import requests
from conftest import TEST_API_KEY
from testsupport.pdfs import make_pdf, page_text
from testsupport.procs import folio_stack

pytest.importorskip("folio_worker.cli")
pytestmark = pytest.mark.slow

AUTH = {"Authorization": f"Bearer {TEST_API_KEY}"}


@pytest.fixture
def folio(env, db, tmp_path):
    with folio_stack(env, tmp_path) as base:
        yield base


def test_multipart_upload_to_text(folio):
    response = requests.post(
        f"{folio}/api/v1/jobs",
        files={"file": ("three.pdf", make_pdf(3), "application/pdf")},
        headers={**AUTH, "Prefer": "wait=30", "X-Request-ID": "e2e-multipart"},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    job = response.json()
    assert job["status"] == "succeeded"
    assert job["page_count"] == 3
    result = requests.get(f"{folio}{job['links']['result']}", headers=AUTH, timeout=10).json()
    assert [page["number"] for page in result["pages"]] == [1, 2, 3]
    for page in result["pages"]:
        assert page_text(page["number"]) in page["text"]
    assert result["metadata"]["page_count"] == 3


def test_raw_upload_with_page_range_as_text(folio):
    response = requests.post(
        f"{folio}/api/v1/jobs",
        params={"pages": "2-3"},
        data=make_pdf(3),
        headers={**AUTH, "Content-Type": "application/pdf"},
        timeout=60,
    )
    assert response.status_code == 202
    job_url = folio + response.headers["Location"]
    job = requests.get(job_url, headers={**AUTH, "Prefer": "wait=30"}, timeout=60).json()
    assert job["status"] == "succeeded", job
    text = requests.get(
        job_url + "/result", headers={**AUTH, "Accept": "text/plain"}, timeout=10
    ).text
    pages = text.split("\f")
    assert len(pages) == 2
    assert page_text(2) in pages[0] and page_text(3) in pages[1]


def test_broken_pdf_fails_with_its_code(folio):
    response = requests.post(
        f"{folio}/api/v1/jobs",
        data=b"%PDF-1.7\n" + b"garbage" * 100,
        headers={**AUTH, "Content-Type": "application/pdf", "Prefer": "wait=30"},
        timeout=60,
    )
    job = response.json()
    assert job["status"] == "failed"
    assert job["error"]["code"] == "invalid_pdf"
    result = requests.get(f"{folio}/api/v1/jobs/{job['id']}/result", headers=AUTH, timeout=10)
    assert (result.status_code, result.json()["code"]) == (409, "invalid_pdf")
