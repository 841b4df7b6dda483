"""Hostile uploads: each gets a clear 4xx (or a job), never a 500, and the API stays up.

The first tests drive the app through falcon.testing; the rest speak raw HTTP to a real
gunicorn, because truncated bodies, lying Content-Lengths and oversized headers are about
what the server does with the bytes on the wire. (Slow-loris bodies take 30 s to time out:
they are in ``tests/chaos/test_hostile_input.py``; so are the PDFs that need a worker.)
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
import requests
from conftest import OTHER_API_KEY, TEST_API_KEY
from sqlalchemy import text
from testsupport.pdfs import make_pdf
from testsupport.procs import start_api

METACHARACTERS = [
    "'; DROP TABLE jobs; --",
    '" OR 1=1 --',
    "$(touch /tmp/folio-pwned)",
    "`id`; rm -rf / ; echo",
    "a|b&c>d<e",
    "%00%27",
    "\\'\\\"",
]


def test_filenames_with_path_separators_and_control_characters(api):
    for name, expected in [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\windows\\system32\\cmd.pdf", "cmd.pdf"),
        ("/absolute/path/doc.pdf", "doc.pdf"),
        ("evil\x00name.pdf", "evil_name.pdf"),
        ("tab\there\x7f.pdf", "tab_here_.pdf"),
        ("\x1b[31mred.pdf", "_[31mred.pdf"),
        ("..", None),
        ("x" * 1000 + ".pdf", "x" * 255),
    ]:
        body, content_type = api.multipart(file=make_pdf(1), filename=name)
        result = api.request(
            "POST", "/api/v1/jobs", body=body, headers={"Content-Type": content_type}
        )
        assert result.status_code == 202, (name, result.text)
        assert result.json["filename"] == expected, name
    # CR/LF end the part's header line: the name is cut there, never echoed with them.
    body, content_type = api.multipart(file=make_pdf(1), filename="line\r\nX-Injected: 1.pdf")
    result = api.request("POST", "/api/v1/jobs", body=body, headers={"Content-Type": content_type})
    assert result.status_code in (202, 400), result.text
    if result.status_code == 202:
        assert not any(c in (result.json["filename"] or "") for c in "\r\n\x00")


def test_raw_upload_filename_parameter_is_cleaned(api):
    result = api.submit_raw(make_pdf(1), {"filename": "../secret\t.pdf"})
    assert result.status_code == 202, result.text
    assert result.json["filename"] == "secret_.pdf"
    # NUL cannot be stored at all: refused like in every other option.
    result = api.submit_raw(make_pdf(1), {"filename": "secret\x00.pdf"})
    assert (result.status_code, result.json["field"]) == (422, "filename")


def test_option_fields_with_sql_and_shell_metacharacters(api):
    for value in METACHARACTERS:
        for field in ("engine", "pages"):
            result = api.submit(fields={field: value})
            assert (result.status_code, result.json["field"]) == (422, field), (field, value)
        result = api.submit(fields={"callback_url": "http://example.com/" + value})
        assert result.status_code in (202, 422), value
        result = api.submit(fields={"password": value})
        assert result.status_code == 202, value
        assert api.job(result.json["id"]).options.password == value
    assert api.count("jobs") > 0  # the table is still there


def test_nul_in_an_option_is_422_not_500(api):
    for field in ("password", "callback_url", "pages", "engine"):
        result = api.submit(fields={field: "abc\x00def"})
        assert (result.status_code, result.json["field"]) == (422, field), result.text
    result = api.submit_raw(make_pdf(1), {"password": "x\x00y"})
    assert result.status_code == 422


def test_metacharacters_in_query_parameters_and_headers(api):
    for value in METACHARACTERS:
        listing = api.get("/api/v1/jobs", params={"status": value, "cursor": value})
        assert listing.status_code == 422
        cursor = api.get("/api/v1/jobs", params={"cursor": value})
        assert cursor.status_code == 422
        key = api.submit(headers={"Idempotency-Key": value})
        assert key.status_code == 202
    assert api.get("/api/v1/jobs", params={"cursor": "A" * 10_000}).status_code == 422


# Raw HTTP against gunicorn ---------------------------------------------------------------


@pytest.fixture(scope="module")
def server(env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    service, base = start_api(env, tmp_path_factory.mktemp("api"))
    yield base
    service.stop()
    log = service.log_text()
    assert '"status": 500' not in log, "a hostile request got a 500"
    for key in (TEST_API_KEY, OTHER_API_KEY):
        assert key not in log


def raw(base: str, payload: bytes, *, close_write: bool = False, timeout: float = 10) -> bytes:
    """Send ``payload`` on a fresh connection; return everything the server answers."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(payload)
        if close_write:
            sock.shutdown(socket.SHUT_WR)
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
                if b"\r\n\r\n" in b"".join(chunks) and not close_write:
                    sock.settimeout(1)
        except TimeoutError:
            pass
    return b"".join(chunks)


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else 0


def request_head(length: int, content_type: str = "application/pdf") -> bytes:
    return (
        f"POST /api/v1/jobs HTTP/1.1\r\nHost: folio\r\n"
        f"Authorization: Bearer {TEST_API_KEY}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {length}\r\n\r\n"
    ).encode()


def alive(base: str) -> bool:
    return requests.get(f"{base}/api/v1/health/live", timeout=5).ok


@pytest.mark.slow
def test_truncated_raw_upload_is_400(server):
    pdf = make_pdf(5)
    answer = raw(server, request_head(len(pdf)) + pdf[: len(pdf) // 2], close_write=True)
    assert status_of(answer) == 400, answer[:300]
    assert b"application/problem+json" in answer
    assert alive(server)


@pytest.mark.slow
def test_truncated_multipart_upload_is_400(server):
    pdf = make_pdf(5)
    boundary = "hostile"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.pdf"\r\n'
        "Content-Type: application/pdf\r\n\r\n"
    ).encode() + pdf
    head = request_head(len(body) + 100, f"multipart/form-data; boundary={boundary}")
    answer = raw(server, head + body, close_write=True)
    assert status_of(answer) == 400, answer[:300]
    assert alive(server)


@pytest.mark.slow
def test_content_length_shorter_than_the_body(server):
    """The server reads what was announced; the rest is a malformed next request."""
    pdf = make_pdf(2)
    answer = raw(server, request_head(len(pdf) - 100) + pdf, close_write=True)
    first = status_of(answer)
    assert first in (202, 400), answer[:300]
    assert b"HTTP/1.1 500" not in answer
    assert alive(server)


@pytest.mark.slow
def test_content_length_longer_than_the_body_then_close(server):
    pdf = make_pdf(2)
    answer = raw(server, request_head(len(pdf) + 5000) + pdf, close_write=True)
    assert status_of(answer) == 400, answer[:300]
    assert alive(server)


@pytest.mark.slow
def test_invalid_content_length_is_400(server):
    for value in ("-1", "abc", "1e9", "99999999999999999999999"):
        head = request_head(0).replace(b"Content-Length: 0", f"Content-Length: {value}".encode())
        answer = raw(server, head, close_write=True)
        assert status_of(answer) in (400, 413), (value, answer[:200])
    assert alive(server)


@pytest.mark.slow
def test_multipart_with_hundreds_of_parts_is_400(server):
    boundary = "many"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="engine"\r\n\r\npdfminer\r\n'
        for _ in range(500)
    ]
    body = ("".join(parts) + f"--{boundary}--\r\n").encode()
    response = requests.post(
        f"{server}/api/v1/jobs",
        data=body,
        headers={
            "Authorization": f"Bearer {TEST_API_KEY}",
            "Content-Type": f"multipart/form-data; boundary={boundary}",
        },
        timeout=30,
    )
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.slow
def test_oversized_headers_are_refused(server):
    for headers in (
        {"X-Big": "a" * 100_000},
        {f"X-H{i}": "v" for i in range(300)},
        {"Authorization": "Bearer " + "k" * 20_000},
    ):
        try:
            response = requests.get(f"{server}/api/v1/jobs", headers=headers, timeout=10)
        except requests.ConnectionError:
            continue  # closed without an answer: refused too
        assert 400 <= response.status_code < 500, (list(headers)[:1], response.status_code)
    long_line = requests.get(f"{server}/api/v1/jobs?{'a' * 20_000}", timeout=10)
    assert 400 <= long_line.status_code < 500
    assert alive(server)


@pytest.mark.slow
def test_nul_filled_upload_stored_nothing(server, db):
    response = requests.post(
        f"{server}/api/v1/jobs",
        data=b"\x00" * 200_000,
        headers={"Authorization": f"Bearer {TEST_API_KEY}", "Content-Type": "application/pdf"},
        timeout=30,
    )
    assert response.status_code == 415
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM jobs")).scalar_one() == 0
