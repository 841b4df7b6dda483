"""The blob store: byte streams kept as ~1 MiB chunks, read and written in bounded memory.

:class:`BlobStore` is the interface; :class:`PostgresBlobStore` keeps the chunks in the
``blobs`` table so that a job row and its source commit in one transaction. An
S3-compatible store can implement the same methods later (ignoring ``conn``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import BinaryIO, Protocol

from sqlalchemy import Connection

from .dbapi import Executes
from .queries import query

#: Bytes per stored chunk: large enough to keep row overhead small, small enough for memory.
CHUNK_SIZE = 1024 * 1024


class BlobStore(Protocol):
    """Named byte streams. Every method runs inside the caller's transaction ``conn``."""

    def put(self, conn: Connection, key: str, chunks: Iterable[bytes]) -> int:
        """Store ``chunks`` under ``key`` (replacing it); return the size in bytes."""
        ...

    def read(self, conn: Connection, key: str) -> Iterator[bytes]:
        """The object's bytes, chunk by chunk; nothing when it does not exist."""
        ...

    def delete_prefix(self, conn: Connection, prefix: str) -> int:
        """Delete every object whose key starts with ``prefix``; return chunks removed."""
        ...


def rechunk(chunks: Iterable[bytes], size: int = CHUNK_SIZE) -> Iterator[bytes]:
    """Re-cut a stream of arbitrary pieces into pieces of exactly ``size`` (the last shorter)."""
    buffer = bytearray()
    for piece in chunks:
        buffer += piece
        while len(buffer) >= size:
            yield bytes(buffer[:size])
            del buffer[:size]
    if buffer:
        yield bytes(buffer)


def read_file_chunks(fh: BinaryIO, size: int = CHUNK_SIZE) -> Iterator[bytes]:
    while chunk := fh.read(size):
        yield chunk


def append_chunks(conn: Executes, key: str, chunks: Iterable[bytes], *, first_seq: int = 0) -> int:
    """Insert ``chunks`` (already cut to :data:`CHUNK_SIZE`) as the object's chunks from
    ``first_seq`` on, one statement each; the bytes written."""
    insert = query("INSERT INTO blobs (key, seq, data) VALUES (:key, :seq, :data)")
    size = 0
    for seq, chunk in enumerate(chunks, first_seq):
        conn.execute(insert, {"key": key, "seq": seq, "data": chunk})
        size += len(chunk)
    return size


class PostgresBlobStore:
    """Blobs in the ``blobs`` table (see migrations/0002_blobs.sql)."""

    def put(self, conn: Connection, key: str, chunks: Iterable[bytes]) -> int:
        conn.execute(query("DELETE FROM blobs WHERE key = :key"), {"key": key})
        return append_chunks(conn, key, rechunk(chunks))

    def read(self, conn: Connection, key: str) -> Iterator[bytes]:
        # One chunk per query keeps memory flat without a server-side cursor, which a
        # transaction-mode pooler would not keep across statements anyway. Each answer says
        # whether a next chunk exists, so a one-chunk object is one query, not two.
        select = query(
            """SELECT data, EXISTS (SELECT 1 FROM blobs WHERE key = :key AND seq = :seq + 1)
               FROM blobs WHERE key = :key AND seq = :seq"""
        )
        seq = 0
        while (row := conn.execute(select, {"key": key, "seq": seq}).first()) is not None:
            yield bytes(row[0])
            if not row[1]:
                return
            seq += 1

    def delete_prefix(self, conn: Connection, prefix: str) -> int:
        result = conn.execute(
            query("DELETE FROM blobs WHERE key LIKE :pattern"), {"pattern": like_prefix(prefix)}
        )
        return result.rowcount


def like_prefix(prefix: str) -> str:
    """The ``LIKE`` pattern of the keys starting with ``prefix`` (its wildcards escaped)."""
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


def source_key(job_id: str) -> str:
    return f"jobs/{job_id}/source.pdf"


def part_key(job_id: str, part_no: int) -> str:
    return f"jobs/{job_id}/parts/{part_no:05d}.pdf"


def job_prefix(job_id: str) -> str:
    return f"jobs/{job_id}/"
