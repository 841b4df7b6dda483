"""Inputs that used to answer 500 (or a misleading 4xx): each now gets a clear answer.

``limit=²`` and a filename that is not UTF-8 go through falcon.testing; chunked bodies
go to a real gunicorn, because de-chunking is gunicorn's part.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from conftest import TEST_API_KEY
from testsupport.pdfs import make_pdf
from testsupport.procs import start_api

AUTH = {"Authorization": f"Bearer {TEST_API_KEY}"}


@pytest.mark.parametrize("limit", ["²", "٣", "\uff11", "-1", "1.5", "0", "101"])
def test_a_limit_that_is_not_ascii_digits_is_422(api, limit):
    result = api.get("/api/v1/jobs", params={"limit": limit})
    assert (result.status_code, result.json["field"]) == (422, "limit"), result.text


def test_the_url_encoded_superscript_two_is_422(api):
    assert api.get("/api/v1/jobs?limit=%C2%B2").status_code == 422


def test_a_filename_that_is_not_utf8_is_400(api):
    boundary = "b0undary"
    body = (
        f"--{boundary}\r\n".encode()
        + b'Content-Disposition: form-data; name="file"; filename="\xff\xfe bad.pdf"\r\n'
        + b"Content-Type: application/pdf\r\n\r\n"
        + make_pdf(1)
        + f"\r\n--{boundary}--\r\n".encode()
    )
    result = api.request(
        "POST",
        "/api/v1/jobs",
        body=body,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert result.status_code == 400, result.text
    assert "UTF-8" in result.json["detail"]


@pytest.fixture(scope="module")
def server(env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log_dir: Path = tmp_path_factory.mktemp("api")
    service, base = start_api({**env, "RATE_LIMIT_PER_MINUTE": "0"}, log_dir)
    yield base
    service.stop()
    assert '"status": 500' not in service.log_text()


def chunks(data: bytes, size: int = 4096) -> Iterator[bytes]:
    """A generator body: requests sends it with ``Transfer-Encoding: chunked``."""
    for start in range(0, len(data), size):
        yield data[start : start + size]


@pytest.mark.slow
def test_a_chunked_raw_pdf_is_accepted_whole(server):
    pdf = make_pdf(3)
    response = requests.post(
        f"{server}/api/v1/jobs",
        data=chunks(pdf),
        headers={**AUTH, "Content-Type": "application/pdf"},
        timeout=30,
    )
    assert response.status_code == 202, response.text
    assert response.json()["size_bytes"] == len(pdf)


@pytest.mark.slow
def test_a_chunked_raw_body_that_is_not_a_pdf_is_415(server):
    response = requests.post(
        f"{server}/api/v1/jobs",
        data=chunks(b"hello " * 2000),
        headers={**AUTH, "Content-Type": "application/pdf"},
        timeout=30,
    )
    assert response.status_code == 415, response.text


@pytest.mark.slow
def test_a_chunked_multipart_upload_is_streamed(server):
    pdf = make_pdf(2)
    boundary = "chunky"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="engine"\r\n\r\npdfminer\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="c.pdf"\r\n'
            "Content-Type: application/pdf\r\n\r\n"
        ).encode()
        + pdf
        + f"\r\n--{boundary}--\r\n".encode()
    )
    response = requests.post(
        f"{server}/api/v1/jobs",
        data=chunks(body, 1000),
        headers={**AUTH, "Content-Type": f"multipart/form-data; boundary={boundary}"},
        timeout=30,
    )
    assert response.status_code == 202, response.text
    assert (response.json()["size_bytes"], response.json()["filename"]) == (len(pdf), "c.pdf")


@pytest.mark.slow
def test_a_truncated_chunked_multipart_upload_is_400(server):
    boundary = "chunky"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="c.pdf"\r\n'
        "Content-Type: application/pdf\r\n\r\n"
    ).encode() + make_pdf(1)  # no closing boundary
    response = requests.post(
        f"{server}/api/v1/jobs",
        data=chunks(body),
        headers={**AUTH, "Content-Type": f"multipart/form-data; boundary={boundary}"},
        timeout=30,
    )
    assert response.status_code == 400, response.text
