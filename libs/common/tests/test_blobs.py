"""The Postgres blob store: exact round trips, 1 MiB chunks, prefix deletes, bounded memory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time

import pytest
from folio_common.blobs import CHUNK_SIZE, PostgresBlobStore, job_prefix, part_key, source_key
from folio_common.database import Database
from sqlalchemy import Connection, text

store = PostgresBlobStore()

#: Size of the streamed object; FOLIO_TEST_BIG_BLOB_MB overrides it.
BIG_BLOB_MB = int(os.environ.get("FOLIO_TEST_BIG_BLOB_MB", "200"))
MAX_GROWTH_MB = 30
#: Driver buffers and allocator state, ~10 MB; it does not grow with the object.
MAX_FIXED_MB = 80


def _pieces(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def _read(db: Database, key: str) -> list[bytes]:
    return db.transaction(lambda conn: list(store.read(conn, key)))


def test_put_and_read_round_trip_exact_bytes_in_1_mib_chunks(db: Database) -> None:
    data = os.urandom(3 * CHUNK_SIZE + 12345)
    size = db.transaction(store.put, "t/round-trip", _pieces(data, 300_000))
    assert size == len(data)
    chunks = _read(db, "t/round-trip")
    assert b"".join(chunks) == data
    assert [len(c) for c in chunks] == [CHUNK_SIZE] * 3 + [12345]
    with db.connect() as conn:
        seqs = conn.execute(
            text("SELECT seq, length(data) FROM blobs WHERE key = 't/round-trip' ORDER BY seq")
        ).all()
    assert [tuple(row) for row in seqs] == [
        (0, CHUNK_SIZE),
        (1, CHUNK_SIZE),
        (2, CHUNK_SIZE),
        (3, 12345),
    ]


def test_put_replaces_an_existing_object(db: Database) -> None:
    db.transaction(store.put, "t/replace", [os.urandom(2 * CHUNK_SIZE)])
    db.transaction(store.put, "t/replace", [b"short"])
    assert _read(db, "t/replace") == [b"short"]


def test_empty_and_missing_objects_read_as_nothing(db: Database) -> None:
    assert db.transaction(store.put, "t/empty", []) == 0
    assert _read(db, "t/empty") == []
    assert _read(db, "t/missing") == []


def test_delete_prefix_removes_only_that_prefix_even_with_like_wildcards(db: Database) -> None:
    def fill(conn: Connection) -> None:
        for key in ("jobs/a_b/source.pdf", "jobs/a_b/parts/1", "jobs/axb/source.pdf", "jobs/a%/x"):
            store.put(conn, key, [key.encode()])

    db.transaction(fill)
    assert db.transaction(store.delete_prefix, "jobs/a_b/") == 2
    assert _read(db, "jobs/a_b/source.pdf") == []
    assert _read(db, "jobs/axb/source.pdf") == [b"jobs/axb/source.pdf"]
    assert _read(db, "jobs/a%/x") == [b"jobs/a%/x"]
    assert db.transaction(store.delete_prefix, "jobs/a%") == 1
    assert _read(db, "jobs/axb/source.pdf") == [b"jobs/axb/source.pdf"]


def test_blob_keys_of_a_job_share_its_prefix() -> None:
    assert source_key("j1").startswith(job_prefix("j1"))
    assert part_key("j1", 7).startswith(job_prefix("j1") + "parts/")
    assert not source_key("j10").startswith(job_prefix("j1"))


STREAM_SCRIPT = textwrap.dedent(
    """
    import hashlib, json, os, sys
    from folio_common.blobs import PostgresBlobStore
    from folio_common.database import Database
    from folio_common.settings import Settings

    total_mb = int(sys.argv[1])
    db = Database.from_settings(Settings.from_env(), application_name="folio-test-blob")
    store = PostgresBlobStore()

    def generate(digest, mb):
        piece = 64 * 1024
        for i in range(mb * 1024 * 1024 // piece):
            chunk = hashlib.sha256(i.to_bytes(8, "big")).digest() * (piece // 32)
            digest.update(chunk)
            yield chunk

    def read(conn, key, digest):
        size = 0
        for chunk in store.read(conn, key):
            digest.update(chunk)
            size += len(chunk)
        return size

    def status_kb(field):
        # VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss over from the parent
        # through fork and exec, so it would report the test runner's size.
        with open("/proc/self/status") as fh:
            return next(int(l.split()[1]) for l in fh if l.startswith(field + ":"))

    # Resident size once imported and connected, before any blob moved.
    db.transaction(lambda conn: conn.exec_driver_sql("SELECT 1").scalar())
    start_kb = status_kb("VmRSS")
    # A 16 MB object first: the driver's buffers and the allocator reach their steady
    # state, so what follows measures growth with the object's size.
    db.transaction(store.put, "big/warmup", generate(hashlib.sha256(), 16))
    db.transaction(read, "big/warmup", hashlib.sha256())
    baseline_kb = status_kb("VmHWM")

    written = hashlib.sha256()
    size = db.transaction(store.put, "big/object", generate(written, total_mb))
    read_digest = hashlib.sha256()
    read_size = db.transaction(read, "big/object", read_digest)
    peak_kb = status_kb("VmHWM")
    db.transaction(store.delete_prefix, "big/")
    db.close()
    print(json.dumps({
        "size": size, "read_size": read_size,
        "same": written.hexdigest() == read_digest.hexdigest(),
        "growth_mb": round((peak_kb - baseline_kb) / 1024, 1),
        "fixed_mb": round((baseline_kb - start_kb) / 1024, 1),
        "peak_mb": round(peak_kb / 1024, 1),
    }))
    """
)


@pytest.mark.slow
def test_large_object_streams_in_and_out_in_bounded_memory(
    db: Database, env: dict[str, str]
) -> None:
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-c", STREAM_SCRIPT, str(BIG_BLOB_MB)],
        check=False,
        # As the images run it: a fixed mmap threshold, so glibc returns the ~2 MiB
        # buffers of each chunk instead of keeping them on the heap (60-110 MB without).
        env={**os.environ, **env, "MALLOC_MMAP_THRESHOLD_": "262144"},
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.splitlines()[-1])
    assert result["size"] == result["read_size"] == BIG_BLOB_MB * 1024 * 1024
    assert result["same"], "bytes read back differ from bytes written"
    # Streaming: no growth with the object's size once the 16 MB warm-up ran ...
    assert result["growth_mb"] < MAX_GROWTH_MB, result
    # ... and a bounded fixed cost (driver buffers, allocator retention: 10-50 MB seen).
    assert result["fixed_mb"] + result["growth_mb"] < MAX_FIXED_MB, result
    print(f"{BIG_BLOB_MB} MB in and out in {time.monotonic() - started:.1f}s", result)
