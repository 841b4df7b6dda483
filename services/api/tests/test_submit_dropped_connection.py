"""A database connection dropped at any point of a submission leaves exactly one job (or a
clear 503 and none), never two.

The app talks to PostgreSQL through a real TCP proxy (:mod:`testsupport.pgproxy`) that
cuts the connection before a chosen statement reaches the server, or after the server
answered it — for the one-statement path of a small upload, that is after its commit, so
the retry meets a job that already exists. Large uploads take the transaction path
(BEGIN, the job row with the first chunk, more chunks, COMMIT), cut at each step.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from folio_common.blobs import CHUNK_SIZE
from folio_common.broker import JOBS_QUEUE, broker_namespace
from folio_common.database import Database
from folio_common.redis_client import create_redis
from sqlalchemy import text
from testsupport.pdfs import make_pdf
from testsupport.pgproxy import PgProxy

SMALL = make_pdf(1)
#: Over one blob chunk: the job row and two chunks, so a transaction.
LARGE = make_pdf(1) + b"\n%" + b"x" * (CHUNK_SIZE + 1000) + b"\n"


@pytest.fixture
def proxied(make_api: Callable[..., Any], database_url: str) -> Iterator[tuple[PgProxy, Any]]:
    with PgProxy() as proxy:
        yield proxy, make_api(DATABASE_URL=proxy.url(database_url), MAX_UPLOAD_MB="8")


def _jobs_of(db: Database, body: bytes) -> list[Any]:
    digest = hashlib.sha256(body).hexdigest()
    with db.engine.connect() as conn:
        return list(
            conn.execute(
                text(
                    "SELECT id::text AS id, enqueued_at,"
                    " (SELECT count(*) FROM blobs WHERE key = 'jobs/' || j.id || '/source.pdf')"
                    " AS chunks FROM jobs j WHERE sha256 = :sha"
                ),
                {"sha": digest},
            )
        )


def _sent(api: Any, job_id: str) -> bool:
    client = create_redis(api.settings)
    try:
        messages = client.hvals(f"{broker_namespace(api.settings)}:{JOBS_QUEUE}.msgs")
    finally:
        client.close()
    return any(job_id.encode() in m for m in messages)


def _check_one_job(api: Any, db: Database, body: bytes, result: Any) -> None:
    assert result.status_code == 202, result.text
    found = _jobs_of(db, body)
    assert len(found) == 1, f"{len(found)} jobs for one submission"
    job = found[0]
    assert job.id == result.json["id"]
    assert job.chunks == -(-len(body) // CHUNK_SIZE)
    assert job.enqueued_at is not None and _sent(api, job.id)


@pytest.mark.parametrize("when", ["before", "after"])
def test_small_upload_cut_at_its_one_statement(proxied, db, when):
    proxy, api = proxied
    body = make_pdf(1, title=f"small {when}")
    proxy.arm(b"INSERT INTO jobs", when)
    result = api.submit_raw(body)
    assert proxy.cuts == 1
    _check_one_job(api, db, body, result)


def test_an_upload_sends_its_source_once(proxied, db):
    """The one statement carries the chunk once (hex-encoded: twice its size); a second
    mention of its parameter would send it again."""
    proxy, api = proxied
    api.submit_raw(make_pdf(1, title="warm the pool"))
    body = make_pdf(1) + b"\n%" + b"x" * 200_000 + b"\n"
    before = proxy.counters()[1]
    _check_one_job(api, db, body, api.submit_raw(body))
    sent = proxy.counters()[1] - before
    assert 2 * len(body) < sent < 2 * len(body) + 8_000


@pytest.mark.parametrize(
    "marker",
    [b"BEGIN", b"INSERT INTO jobs", b"INSERT INTO blobs (key, seq, data) VALUES", b"COMMIT"],
    ids=["begin", "job-row", "second-chunk", "commit"],
)
@pytest.mark.parametrize("when", ["before", "after"])
def test_large_upload_cut_at_each_statement(proxied, db, marker, when):
    proxy, api = proxied
    body = LARGE + f"{marker!r} {when}".encode()
    proxy.arm(marker, when)
    result = api.submit_raw(body)
    assert proxy.cuts == 1
    _check_one_job(api, db, body, result)


def test_dead_pooled_connection_costs_a_retry_not_the_upload(proxied, db):
    proxy, api = proxied
    assert api.submit_raw(make_pdf(1, title="warm the pool")).status_code == 202
    proxy.drop_all()  # the pool's idle connections are dead; no pre-ping finds out
    body = make_pdf(1, title="after the drop")
    _check_one_job(api, db, body, api.submit_raw(body))


def test_every_try_cut_is_a_clear_503_and_no_job(proxied, db):
    proxy, api = proxied
    body = make_pdf(1, title="never reaches the server")
    proxy.arm(b"INSERT INTO jobs", "before", times=10)
    result = api.submit_raw(body)
    assert result.status_code == 503, result.text
    assert _jobs_of(db, body) == []


def test_every_try_cut_after_commit_is_503_but_still_one_job(proxied, db):
    proxy, api = proxied
    body = make_pdf(1, title="committed, answer lost twice")
    proxy.arm(b"INSERT INTO jobs", "after", times=10)
    result = api.submit_raw(body)
    assert result.status_code == 503, result.text
    assert len(_jobs_of(db, body)) == 1  # accepted once; the sweeper sends it
