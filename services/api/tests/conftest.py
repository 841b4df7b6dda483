"""The API under test: the real app on the test database and Redis, driven by falcon.testing.

Every response any test receives goes through :meth:`Api.request`, which checks that its
status is documented for its operation in the OpenAPI document and that every error is a
problem document: the spec cannot drift from what the app really answers.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import falcon.testing
import pytest
from conftest import TEST_API_KEY
from folio_common import jobs
from folio_common.blobs import PostgresBlobStore
from folio_common.broker import create_broker
from folio_common.database import Database
from folio_common.errors import ErrorCode
from folio_common.lifecycle import JobStatus, transitions
from folio_common.page_reads import PageRead
from folio_common.redis_client import create_redis
from folio_common.settings import Settings
from testsupport import jobs as tj
from testsupport.pdfs import make_pdf

from folio_api.app import create_app
from folio_api.openapi import document

SPEC = document()
_TEMPLATES = [
    (re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$"), path) for path in SPEC["paths"]
]


def template_of(path: str) -> str | None:
    return next((template for regex, template in _TEMPLATES if regex.match(path)), None)


def auth(key: str = TEST_API_KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def multipart(
    fields: dict[str, str] | None = None,
    file: bytes | None = None,
    filename: str = "doc.pdf",
    boundary: str = "folio-test-boundary",
) -> tuple[bytes, str]:
    """A multipart/form-data body and its Content-Type, built by hand."""
    chunks: list[bytes] = []
    for name, value in (fields or {}).items():
        chunks.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
            + value.encode()
            + b"\r\n"
        )
    if file is not None:
        chunks.append(
            f"--{boundary}\r\nContent-Disposition: form-data; "
            f'name="file"; filename="{filename}"\r\n'
            f"Content-Type: application/pdf\r\n\r\n".encode()
            + file
            + b"\r\n"
        )
    chunks.append(f"--{boundary}--\r\n".encode())
    return b"".join(chunks), f"multipart/form-data; boundary={boundary}"


class Api:
    """The app behind a test client, plus the helpers that drive jobs as a worker would."""

    multipart = staticmethod(multipart)

    def __init__(self, settings: Settings, db: Database, app: Any) -> None:
        self.settings = settings
        self.db = db
        self.blobs = PostgresBlobStore()
        self.client = falcon.testing.TestClient(app)

    def request(
        self, method: str, path: str, *, key: str | None = TEST_API_KEY, **kwargs: Any
    ) -> falcon.testing.Result:
        headers = {**(auth(key) if key else {}), **kwargs.pop("headers", {})}
        result = self.client.simulate_request(method, path, headers=headers, **kwargs)
        template = template_of(path)
        if template is not None:
            operation = SPEC["paths"][template].get(method.lower())
            if operation is None:  # a method the route does not serve
                assert result.status_code in (401, 405), f"{method} {template} is not documented"
            else:
                assert str(result.status_code) in operation["responses"], (
                    f"{method} {template} answered {result.status_code}, not documented"
                )
        if result.status_code >= 400 and not path.endswith("/health"):
            assert result.headers["content-type"] == "application/problem+json", result.text
            problem = result.json
            assert problem["status"] == result.status_code
            assert {"type", "title", "detail", "code"} <= set(problem)
        return result

    def get(self, path: str, **kwargs: Any) -> falcon.testing.Result:
        return self.request("GET", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> falcon.testing.Result:
        return self.request("DELETE", path, **kwargs)

    def submit(
        self,
        pdf: bytes | None = None,
        *,
        fields: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> falcon.testing.Result:
        """POST a multipart upload (a fresh 1-page PDF by default)."""
        body, content_type = multipart(fields, make_pdf(1) if pdf is None else pdf)
        return self.request(
            "POST",
            "/api/v1/jobs",
            body=body,
            headers={"Content-Type": content_type, **(headers or {})},
            **kwargs,
        )

    def submit_raw(
        self, pdf: bytes, params: dict[str, str] | None = None, **kwargs: Any
    ) -> falcon.testing.Result:
        headers = {"Content-Type": "application/pdf", **kwargs.pop("headers", {})}
        return self.request(
            "POST", "/api/v1/jobs", body=pdf, params=params or {}, headers=headers, **kwargs
        )

    def new_job(self, key: str = TEST_API_KEY) -> str:
        result = self.submit(key=key)
        assert result.status_code == 202, result.text
        return str(result.json["id"])

    # Driving the job as the worker would -------------------------------------------------

    def start(self, job_id: str, pages: int = 2) -> None:
        tj.start(self.db, self.settings, job_id, pages)

    def succeed(
        self, job_id: str, texts: list[str], reads: dict[int, PageRead] | None = None
    ) -> None:
        self.start(job_id, len(texts))
        pages = [(n, text) for n, text in enumerate(texts, start=1)]
        self.db.transaction(
            transitions.record_part, self.blobs, self.settings, job_id, 0, pages, reads
        )

    def end(
        self, job_id: str, status: JobStatus, error: tuple[ErrorCode, str] | None = None
    ) -> jobs.Job | None:
        return tj.end(self.db, self.settings, job_id, status, error)

    def job(self, job_id: str) -> jobs.Job:
        job = self.db.transaction(jobs.get_job, job_id)
        assert job is not None
        return job

    def count(self, table: str) -> int:
        from sqlalchemy import text

        with self.db.engine.connect() as conn:
            return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


@pytest.fixture
def make_api(env: dict[str, str], db: Database) -> Iterator[Callable[..., Api]]:
    """Build an Api with environment overrides (``MAX_UPLOAD_MB="1"``…)."""
    made: list[tuple[Database, Any]] = []

    def make(**overrides: str) -> Api:
        settings = Settings.from_env({**env, **overrides})
        database = Database.from_settings(settings, application_name="folio-api-test")
        client = create_redis(settings)
        app = create_app(
            settings, database, client, create_broker(settings, client), PostgresBlobStore()
        )
        made.append((database, client))
        return Api(settings, database, app)

    yield make
    for database, client in made:
        database.close()
        client.close()


@pytest.fixture
def api(make_api: Callable[..., Api]) -> Api:
    return make_api()
