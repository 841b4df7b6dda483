"""One function per transition: the only SQL that writes a job's status.

Each takes an open transaction, starts only from the statuses :data:`.states.RULES` allows
(bound into its ``WHERE`` clause, or checked under the job's row lock), and returns a
:class:`~.effects.Step`: ``None``/``False`` as its value when the job was not in a state it
accepts — a duplicated or late message changes nothing — and the effects to run after the
commit. None of them commits: :class:`~.runner.Lifecycle` does, then runs the effects.

Parts have a small state machine of their own — pending, claimed (``claimed_at``, its
heartbeat), done (``done_at``) — and their functions are here too, since a part is claimed
or recorded only while its job is ``processing``.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection

from folio_common.blobs import (
    CHUNK_SIZE,
    BlobStore,
    append_chunks,
    job_prefix,
    like_prefix,
    rechunk,
    source_key,
)
from folio_common.dbapi import Executes
from folio_common.errors import ErrorCode, JobError
from folio_common.jobs import JOB_COLUMNS, PART_COLUMNS, Job, Part, one_job
from folio_common.options import JobOptions
from folio_common.page_reads import TEXT_LAYER, PageRead
from folio_common.queries import query
from folio_common.settings import Settings

from .effects import Announce, EnqueueJob, EnqueuePart, Step
from .states import JobStatus, Transition, allowed, exhausted, sources, target

#: Longest error message kept on a job.
MAX_ERROR_MESSAGE = 1000


def _lock(
    conn: Connection, job_id: str, transition: Transition, strength: str = "NO KEY UPDATE"
) -> bool:
    """Lock the job's row; True when ``transition`` may start from its status.

    The lock orders this transaction with any concurrent transition of the same job (a
    cancel, a sweep: each UPDATE of the row takes ``FOR NO KEY UPDATE``), so the check
    still holds when this one commits.
    """
    status = conn.execute(
        query(f"SELECT status FROM jobs WHERE id = :id FOR {strength}"), {"id": job_id}
    ).scalar()
    return status is not None and allowed(transition, JobStatus(status))


# Submission -----------------------------------------------------------------------------


def submit(
    conn: Executes,
    *,
    job_id: str,
    owner: str,
    engine: str,
    options: JobOptions,
    filename: str | None,
    size_bytes: int,
    sha256: str,
    idempotency_key: str | None = None,
    callback_url: str | None = None,
    request_id: str | None = None,
    source: Iterable[bytes] = (),
) -> Step[Job | None]:
    """(nothing) → queued, with its source PDF. After commit: its message is sent.

    The job row and the source's first blob chunk go in ONE statement, so a source of one
    chunk (:data:`~folio_common.blobs.CHUNK_SIZE`) may be submitted on an autocommit
    connection in one round trip (:meth:`~folio_common.database.Database.statement`);
    a larger one needs a transaction (its other chunks are further statements).

    ``enqueued_at`` is set optimistically: the message is sent right after the commit,
    and only when that send fails does the effect clear it again (:func:`forget_enqueued`)
    — no second transaction per upload. A job whose clearing also failed is still sent by
    the sweeper once ``REQUEUE_AFTER_S`` has passed.

    Value: None — nothing written — when ``job_id`` exists already (this is a retry of a
    submission whose commit succeeded but whose answer was lost) or ``idempotency_key``
    was used already by ``owner``: the caller looks the job up (:func:`jobs.find_submitted`).
    """
    chunks = rechunk(source)
    first = next(chunks, None)
    job = one_job(
        conn,
        f"""
        WITH job AS (
            INSERT INTO jobs (id, owner, status, engine, options, filename, size_bytes, sha256,
                              idempotency_key, callback_url, request_id, enqueued_at)
            VALUES (:id, :owner, :status, :engine, CAST(:options AS jsonb), :filename,
                    :size_bytes, :sha256, :idempotency_key, :callback_url, :request_id, now())
            ON CONFLICT DO NOTHING
            RETURNING {JOB_COLUMNS}
        ), source AS (
            INSERT INTO blobs (key, seq, data)
            SELECT :key, 0, CAST(:data AS bytea) FROM job WHERE CAST(:has_data AS boolean)
        )
        SELECT {JOB_COLUMNS} FROM job
        """,
        id=job_id,
        owner=owner,
        status=target(Transition.SUBMIT),
        engine=engine,
        options=json.dumps(options.to_json()),
        filename=filename,
        size_bytes=size_bytes,
        sha256=sha256,
        idempotency_key=idempotency_key,
        callback_url=callback_url,
        request_id=request_id,
        key=source_key(job_id),
        data=first,
        # Not `:data IS NOT NULL`: psycopg2 binds client-side, so each mention of :data
        # sends the chunk again (hex-encoded, twice its size).
        has_data=first is not None,
    )
    if job is None:
        return Step(None)
    append_chunks(conn, source_key(job_id), chunks, first_seq=1)
    return Step(job, (EnqueueJob(job.id, request_id, noted=True),))


def note_enqueued(conn: Connection, job_id: str) -> None:
    """Note that a queued job's message was sent (an :class:`EnqueueJob` effect's second
    half). Losing this note in a crash only makes the sweeper send a duplicate (a no-op),
    so it commits without waiting for the disk."""
    conn.execute(query("SET LOCAL synchronous_commit = off"))
    conn.execute(
        query("UPDATE jobs SET enqueued_at = now() WHERE id = :id AND status = :queued"),
        {"id": job_id, "queued": JobStatus.QUEUED.value},
    )


def forget_enqueued(conn: Connection, job_id: str) -> None:
    """Undo :func:`submit`'s optimistic ``enqueued_at`` after its message could not be
    sent (Redis down), so the next sweep sends it instead of one ``REQUEUE_AFTER_S`` later."""
    conn.execute(
        query("UPDATE jobs SET enqueued_at = NULL WHERE id = :id AND status = :queued"),
        {"id": job_id, "queued": JobStatus.QUEUED.value},
    )


# The worker ------------------------------------------------------------------------------


#: What a claim sets, and which jobs it may claim: a queued one, or a processing one whose
#: heartbeat is older than ``STUCK_AFTER_S`` (its worker died).
_CLAIM = """UPDATE jobs SET status = :target, attempts = attempts + 1,
               started_at = coalesce(started_at, now()), heartbeat_at = now(),
               updated_at = now()
        WHERE id = :id
          AND (status = :queued
               OR (status = :processing
                   AND heartbeat_at < now() - make_interval(secs => :stale_s)))"""


def _claim_params(settings: Settings, job_id: str) -> dict[str, Any]:
    return {
        "id": job_id,
        "target": target(Transition.CLAIM),
        "queued": JobStatus.QUEUED.value,
        "processing": JobStatus.PROCESSING.value,
        "stale_s": settings.stuck_after_s,
    }


def claim(conn: Connection, blobs: BlobStore, settings: Settings, job_id: str) -> Step[Job | None]:
    """queued → processing, one more attempt; a ``processing`` job only once its heartbeat
    is older than ``STUCK_AFTER_S`` (its worker died), so a duplicate message for a running
    job neither runs it twice nor burns an attempt.

    The attempt past ``MAX_ATTEMPTS`` fails the job (``worker_lost``) instead. Value: the
    claimed job, or None when there is nothing to run.
    """
    job = one_job(conn, f"{_CLAIM} RETURNING {JOB_COLUMNS}", **_claim_params(settings, job_id))
    if job is None:
        return Step(None)
    if exhausted(job.attempts, settings.max_attempts):
        last = f"; last error: {job.error_message}" if job.error_message else ""
        error = JobError(ErrorCode.WORKER_LOST, f"gave up after {job.attempts - 1} attempts{last}")
        return Step(None, fail(conn, blobs, settings, job_id, error).effects)
    return Step(job)


def claim_small(conn: Executes, settings: Settings, job_id: str) -> Step[tuple[Job, bytes] | None]:
    """:func:`claim` of the common case in ONE statement (:meth:`Lifecycle.run_statement`),
    with the job's source: an unplanned job whose source is one blob chunk, with an
    attempt left. A small job is then claimed and read in one round trip, not four
    (BEGIN, the claim, the source, COMMIT). None, and nothing written, for any other job:
    the caller takes :func:`claim`, which also fails a job out of attempts."""
    row = conn.execute(
        query(
            f"""{_CLAIM}
          AND parts_total IS NULL AND size_bytes <= :chunk AND attempts < :max_attempts
        RETURNING {JOB_COLUMNS},
                  (SELECT data FROM blobs WHERE key = :key AND seq = 0) AS source_data"""
        ),
        {
            **_claim_params(settings, job_id),
            "chunk": CHUNK_SIZE,
            "max_attempts": settings.max_attempts,
            "key": source_key(job_id),
        },
    ).first()
    if row is None:
        return Step(None)
    job, data = Job.from_row_and(row, "source_data")
    return Step((job, bytes(data) if data is not None else b""))


def plan(
    conn: Connection,
    job: Job,
    *,
    page_count: int,
    metadata: dict[str, Any],
    parts: Sequence[tuple[list[int], str | None]],
    ocr_pages: Collection[int] | None = None,
) -> Step[bool]:
    """Record what a processing job's document is and how it is split: one row per part
    (``pages``, and the blob key of a split-off part), sent after commit. ``ocr_pages``:
    the pages to read by OCR, which each part keeps of its own (None: parts decide when
    they run). False, and nothing written, when the job is no longer processing (cancelled
    meanwhile): the caller must then store no blob.
    """
    job_id = job.id
    if not _lock(conn, job_id, Transition.PLAN):
        return Step(False)
    # The parts and the job's totals in one statement, however many parts (each part's
    # pages travel as an array literal: unnest would flatten an array of arrays).
    conn.execute(
        query(
            """WITH parts AS (
                   INSERT INTO job_parts (job_id, part_no, pages, blob_key, ocr_pages)
                   SELECT :id, p.no, CAST(p.pages AS int[]), p.blob_key, CAST(p.ocr AS int[])
                   FROM unnest(CAST(:part_nos AS int[]), CAST(:part_pages AS text[]),
                               CAST(:blob_keys AS text[]), CAST(:part_ocr AS text[]))
                        AS p(no, pages, blob_key, ocr)
                   ON CONFLICT (job_id, part_no) DO NOTHING
               )
               UPDATE jobs SET page_count = :page_count, pages_total = :pages_total,
                   parts_total = :parts_total, metadata = CAST(:metadata AS jsonb),
                   heartbeat_at = now(), updated_at = now()
               WHERE id = :id"""
        ),
        {
            "part_nos": list(range(len(parts))),
            "part_pages": [_int_array(pages) for pages, _ in parts],
            "part_ocr": [
                None if ocr_pages is None else _int_array(n for n in pages if n in ocr_pages)
                for pages, _ in parts
            ],
            "blob_keys": [blob_key for _, blob_key in parts],
            "id": job_id,
            "page_count": page_count,
            "pages_total": sum(len(pages) for pages, _ in parts),
            "parts_total": len(parts),
            "metadata": json.dumps(metadata),
        },
    )
    sends = tuple(
        EnqueuePart(job_id, part_no, job.request_id)
        for part_no, (_, blob_key) in enumerate(parts)
        if blob_key is not None
    )
    return Step(True, sends)


def _int_array(numbers: Iterable[int]) -> str:
    """A PostgreSQL array literal: an array of arrays cannot travel through unnest."""
    return "{" + ",".join(map(str, numbers)) + "}"


def _pages_upsert(
    job_id: str,
    pages: Sequence[tuple[int, str]],
    reads: Mapping[int, PageRead] | None,
    only_if: str = "TRUE",
) -> tuple[str, dict[str, Any]]:
    """The statement that writes pages (how each was read: ``reads``, else its text
    layer), one row per page, and its parameters; ``only_if``: a condition on the rows, for
    a statement that writes them only when its other part did."""
    reads = reads or {}
    how = [reads.get(n, TEXT_LAYER) for n, _ in pages]
    sql = f"""INSERT INTO job_pages (job_id, page_no, text, chars, method, ocr_confidence,
                                      unread_reason)
               SELECT :job_id, no, body, char_length(body), method, confidence, reason
               FROM unnest(CAST(:nos AS int[]), CAST(:texts AS text[]),
                           CAST(:methods AS text[]), CAST(:confidences AS real[]),
                           CAST(:reasons AS text[]))
                    AS p(no, body, method, confidence, reason)
               WHERE {only_if}
               ON CONFLICT (job_id, page_no)
               DO UPDATE SET text = EXCLUDED.text, chars = EXCLUDED.chars,
                   method = EXCLUDED.method, ocr_confidence = EXCLUDED.ocr_confidence,
                   unread_reason = EXCLUDED.unread_reason"""
    params = {
        "job_id": job_id,
        "nos": [n for n, _ in pages],
        "texts": [t for _, t in pages],
        "methods": [r.method.value for r in how],
        "confidences": [r.confidence for r in how],
        "reasons": [r.reason for r in how],
    }
    return sql, params


def _upsert_pages(
    conn: Connection,
    job_id: str,
    pages: Sequence[tuple[int, str]],
    reads: Mapping[int, PageRead] | None,
) -> None:
    if pages:
        sql, params = _pages_upsert(job_id, pages, reads)
        conn.execute(query(sql), params)


#: A job's progress is the pages recorded so far: counted, so that a page recorded twice
#: (a redelivered part) counts once, and a part's pages may arrive one at a time.
_PAGES_DONE = "(SELECT count(*) FROM job_pages WHERE job_id = :id)"


def record_pages(
    conn: Connection,
    job_id: str,
    pages: Sequence[tuple[int, str]],
    reads: Mapping[int, PageRead] | None = None,
) -> Step[bool]:
    """Upsert some of a running part's pages ahead of the rest (an OCR page, as soon as it is
    read), so that progress moves page by page. False when the job is no longer processing."""
    if not _lock(conn, job_id, Transition.RECORD_PART):
        return Step(False)
    _upsert_pages(conn, job_id, pages, reads)
    conn.execute(
        query(
            f"""UPDATE jobs SET pages_done = {_PAGES_DONE}, heartbeat_at = now(),
                   updated_at = now()
               WHERE id = :id"""
        ),
        {"id": job_id},
    )
    return Step(True)


def record_part(
    conn: Connection,
    blobs: BlobStore,
    settings: Settings,
    job_id: str,
    part_no: int,
    pages: Sequence[tuple[int, str]],
    reads: Mapping[int, PageRead] | None = None,
) -> Step[Job | None]:
    """Upsert a part's pages (how each was read: ``reads``, else its text layer) and count
    the part done once; the part that completes the set succeeds the job. Value: the
    succeeded job, else None (more parts to come, or the job is no longer processing and
    nothing was written)."""
    # FOR UPDATE, the strongest row lock: a holder of FOR KEY SHARE (a foreign key check, or
    # a test holding a job mid-run: testsupport.jobs.parts_held) delays recording, not planning.
    if not _lock(conn, job_id, Transition.RECORD_PART, "UPDATE"):
        return Step(None)
    _upsert_pages(conn, job_id, pages, reads)
    # The part counts once: only the statement that marks it done adds it (None otherwise).
    job = one_job(
        conn,
        f"""
        WITH part AS (
            UPDATE job_parts SET done_at = now()
            WHERE job_id = :id AND part_no = :part_no AND done_at IS NULL
            RETURNING part_no
        )
        UPDATE jobs SET parts_done = parts_done + 1, pages_done = {_PAGES_DONE},
               heartbeat_at = now(), updated_at = now()
        WHERE id = :id AND EXISTS (SELECT 1 FROM part)
        RETURNING {JOB_COLUMNS}
        """,
        id=job_id,
        part_no=part_no,
    )
    if job is None or job.parts_done != job.parts_total:
        return Step(None)
    return succeed(conn, blobs, settings, job_id)


def claim_part(
    conn: Connection, blobs: BlobStore, settings: Settings, job_id: str, part_no: int
) -> Step[Part | None]:
    """Claim a pending part of a processing job; None when the part is done, the job is not
    processing, or another worker runs the part (its claim is fresher than
    ``STUCK_AFTER_S``): a duplicate message costs one statement. A part claimed past
    ``MAX_ATTEMPTS`` fails its job (``worker_lost``)."""
    row = conn.execute(
        query(
            f"""UPDATE job_parts p SET attempts = p.attempts + 1, claimed_at = now()
               FROM jobs j
               WHERE p.job_id = :id AND p.part_no = :part_no AND p.done_at IS NULL
                 AND j.id = p.job_id AND j.status = ANY(:sources)
                 AND (p.claimed_at IS NULL
                      OR p.claimed_at < now() - make_interval(secs => :stale_s))
               RETURNING p.attempts, {PART_COLUMNS}"""
        ),
        {
            "id": job_id,
            "part_no": part_no,
            "sources": sources(Transition.RECORD_PART),
            "stale_s": settings.stuck_after_s,
        },
    ).first()
    if row is None:
        return Step(None)
    if exhausted(row.attempts, settings.max_attempts):
        error = JobError(
            ErrorCode.WORKER_LOST, f"part {part_no} lost its worker {row.attempts - 1} times"
        )
        return Step(None, fail(conn, blobs, settings, job_id, error).effects)
    return Step(Part.from_row(row, done=False))


def touch_part(conn: Connection, job_id: str, part_no: int) -> None:
    """The running part's heartbeat (see :func:`claim_part`)."""
    conn.execute(
        query(
            """UPDATE job_parts SET claimed_at = now()
               WHERE job_id = :id AND part_no = :part_no AND done_at IS NULL"""
        ),
        {"id": job_id, "part_no": part_no},
    )


def _note_error(conn: Connection, job_id: str, reason: str) -> None:
    """Keep the latest transient error on a live job, so a job that runs out of attempts
    fails with the reason it kept failing."""
    conn.execute(
        query(
            """UPDATE jobs SET error_message = :message, updated_at = now()
               WHERE id = :id AND status = ANY(:live)"""
        ),
        {
            "id": job_id,
            "message": reason[:MAX_ERROR_MESSAGE],
            "live": sources(Transition.FAIL),
        },
    )


def release(conn: Connection, job_id: str, reason: str) -> Step[bool]:
    """processing → queued after a transient failure or when the worker stops: the
    message is retried and claims it again. ``reason`` is kept as the job's last error."""
    _note_error(conn, job_id, reason)
    released = conn.execute(
        query(
            """UPDATE jobs SET status = :target, updated_at = now()
               WHERE id = :id AND status = ANY(:sources)"""
        ),
        {
            "id": job_id,
            "target": target(Transition.RELEASE),
            "sources": sources(Transition.RELEASE),
        },
    ).rowcount
    return Step(bool(released))


def release_part(conn: Connection, job_id: str, part_no: int, reason: str) -> Step[bool]:
    """Drop a part's claim after a transient failure, so its retried message can run it;
    the job stays processing. ``reason`` is kept as the job's last error."""
    _note_error(conn, job_id, reason)
    released = conn.execute(
        query(
            """UPDATE job_parts SET claimed_at = NULL
               WHERE job_id = :id AND part_no = :part_no AND done_at IS NULL"""
        ),
        {"id": job_id, "part_no": part_no},
    ).rowcount
    return Step(bool(released))


def finish_small(
    conn: Executes,
    settings: Settings,
    job_id: str,
    *,
    page_count: int,
    metadata: dict[str, Any],
    pages: Sequence[tuple[int, str]],
) -> Step[Job | None]:
    """:func:`plan`, :func:`record_part` and :func:`succeed` of a one-part document whose
    pages were all read from its text layer at inspection, in ONE statement
    (:meth:`Lifecycle.run_statement`): the job, its pages, its blobs dropped. One round
    trip instead of nine, and no ``job_parts`` row: a one-part job sends no part message.
    Value: the succeeded job; None, and nothing written, when it is no longer processing
    or was planned meanwhile (a duplicate claim that got further)."""
    pages_sql, params = _pages_upsert(job_id, pages, None, "EXISTS (SELECT 1 FROM done)")
    # The blobs table is read the same way by claim_small; the source was committed at
    # submission, so this statement's snapshot sees it.
    job = one_job(
        conn,
        f"""
        WITH done AS (
            UPDATE jobs SET status = :target, page_count = :page_count,
                   pages_total = :pages_total, pages_done = :pages_total,
                   parts_total = 1, parts_done = 1, metadata = CAST(:metadata AS jsonb),
                   error_code = NULL, error_message = NULL, heartbeat_at = now(),
                   finished_at = now(), updated_at = now(),
                   expires_at = now() + make_interval(secs => :ttl_s),
                   options = options - 'password'
            WHERE id = :id AND status = ANY(:sources) AND parts_total IS NULL
            RETURNING {JOB_COLUMNS}
        ), pages AS ({pages_sql}
        ), gone AS (
            DELETE FROM blobs WHERE key LIKE :blobs AND EXISTS (SELECT 1 FROM done)
        )
        SELECT * FROM done
        """,
        **params,
        id=job_id,
        target=target(Transition.SUCCEED),
        sources=sources(Transition.SUCCEED),
        page_count=page_count,
        pages_total=len(pages),
        metadata=json.dumps(metadata),
        ttl_s=settings.result_ttl_hours * 3600,
        blobs=like_prefix(_dropped_prefix(settings, job_id)),
    )
    return Step(job, (Announce(job),) if job is not None else ())


# Ending a job ----------------------------------------------------------------------------


def _end(
    conn: Connection,
    blobs: BlobStore,
    settings: Settings,
    job_id: str,
    transition: Transition,
    error: JobError | None,
) -> Step[Job | None]:
    """Make a live job terminal, drop what it no longer needs (parts, part blobs, and the
    source unless ``KEEP_SOURCE``); after commit it is announced."""
    job = one_job(
        conn,
        f"""
        UPDATE jobs SET status = :target, error_code = :code, error_message = :message,
               finished_at = now(), updated_at = now(),
               expires_at = now() + make_interval(secs => :ttl_s),
               options = options - 'password'
        WHERE id = :id AND status = ANY(:sources)
        RETURNING {JOB_COLUMNS}
        """,
        id=job_id,
        target=target(transition),
        sources=sources(transition),
        code=error.code.value if error else None,
        message=error.message[:MAX_ERROR_MESSAGE] if error else None,
        ttl_s=settings.result_ttl_hours * 3600,
    )
    if job is None:
        return Step(None)
    # A statement of its own: its snapshot, taken after the UPDATE waited for the row lock,
    # sees the parts a plan committed meanwhile (one WITH statement would not).
    conn.execute(query("DELETE FROM job_parts WHERE job_id = :id"), {"id": job_id})
    blobs.delete_prefix(conn, _dropped_prefix(settings, job_id))
    return Step(job, (Announce(job),))


def _dropped_prefix(settings: Settings, job_id: str) -> str:
    """The blobs a finished job drops: its parts', and its source unless ``KEEP_SOURCE``."""
    prefix = job_prefix(job_id)
    return prefix + "parts/" if settings.keep_source else prefix


def succeed(
    conn: Connection, blobs: BlobStore, settings: Settings, job_id: str
) -> Step[Job | None]:
    """processing → succeeded (the last part was recorded)."""
    return _end(conn, blobs, settings, job_id, Transition.SUCCEED, None)


def fail(
    conn: Connection, blobs: BlobStore, settings: Settings, job_id: str, error: JobError
) -> Step[Job | None]:
    """queued or processing → failed with ``error``'s code and message."""
    return _end(conn, blobs, settings, job_id, Transition.FAIL, error)


def cancel(conn: Connection, blobs: BlobStore, settings: Settings, job_id: str) -> Step[Job | None]:
    """queued or processing → cancelled; a running extraction notices at its next
    heartbeat and stops. None when the job had already ended."""
    error = JobError(ErrorCode.CANCELLED, "cancelled by the client")
    return _end(conn, blobs, settings, job_id, Transition.CANCEL, error)


def purge(conn: Connection, blobs: BlobStore, job_id: str) -> Step[bool]:
    """Drop an ended job's results: pages, parts, blobs and the document's metadata. Its
    row stays, marked purged (results answer 410). False for a live job."""
    purged = conn.execute(
        query(
            """UPDATE jobs SET purged_at = coalesce(purged_at, now()), metadata = NULL,
                   updated_at = now()
               WHERE id = :id AND status = ANY(:sources)"""
        ),
        {"id": job_id, "sources": sources(Transition.PURGE)},
    ).rowcount
    if not purged:
        return Step(False)
    conn.execute(query("DELETE FROM job_pages WHERE job_id = :id"), {"id": job_id})
    conn.execute(query("DELETE FROM job_parts WHERE job_id = :id"), {"id": job_id})
    blobs.delete_prefix(conn, job_prefix(job_id))
    return Step(True)


# The sweeper and operators ---------------------------------------------------------------


def recover(conn: Connection, job: Job) -> Step[bool]:
    """processing → queued for a job whose worker stopped beating, sent again after commit
    (its recorded parts are kept). The sweeper fails it instead once it is out of attempts,
    and re-sends a split job's parts (:func:`resend_parts`)."""
    recovered = conn.execute(
        query(
            """UPDATE jobs SET status = :target, enqueued_at = NULL, updated_at = now()
               WHERE id = :id AND status = ANY(:sources)"""
        ),
        {
            "id": job.id,
            "target": target(Transition.RECOVER),
            "sources": sources(Transition.RECOVER),
        },
    ).rowcount
    return Step(bool(recovered), (EnqueueJob(job.id, job.request_id),) if recovered else ())


def resend_parts(conn: Connection, job: Job, parts: Sequence[Part]) -> Step[bool]:
    """A stale split job keeps processing: its heartbeat is reset and its unfinished
    ``parts`` are sent again (a part still queued or running skips the duplicate)."""
    touched = conn.execute(
        query(
            """UPDATE jobs SET heartbeat_at = now()
               WHERE id = :id AND status = ANY(:sources)"""
        ),
        {"id": job.id, "sources": sources(Transition.RESEND_PARTS)},
    ).rowcount
    if not touched:
        return Step(False)
    return Step(True, tuple(EnqueuePart(job.id, p.part_no, job.request_id) for p in parts))


def reenqueue(conn: Connection, job: Job) -> Step[bool]:
    """A queued job's message is sent again (it was never sent, or Redis lost it).

    Writes nothing, so it checks the status its caller just read in this transaction
    (a duplicate message for a job that moved on meanwhile is a no-op at the claim)."""
    if not allowed(Transition.REENQUEUE, job.status):
        return Step(False)
    return Step(True, (EnqueueJob(job.id, job.request_id),))


def reset(conn: Connection, job_id: str) -> Step[Job | None]:
    """failed → queued as if new: attempts 0, error cleared, progress, pages and parts
    dropped; sent after commit. None when the job is not failed or was purged. The caller
    checks first that its source PDF still exists."""
    job = one_job(
        conn,
        f"""
        UPDATE jobs SET status = :target, attempts = 0, error_code = NULL,
               error_message = NULL, pages_done = 0, pages_total = NULL, parts_done = 0,
               parts_total = NULL, started_at = NULL, finished_at = NULL,
               heartbeat_at = NULL, enqueued_at = NULL, expires_at = NULL,
               updated_at = now()
        WHERE id = :id AND status = ANY(:sources) AND purged_at IS NULL
        RETURNING {JOB_COLUMNS}
        """,
        id=job_id,
        target=target(Transition.RESET),
        sources=sources(Transition.RESET),
    )
    if job is None:
        return Step(None)
    conn.execute(query("DELETE FROM job_pages WHERE job_id = :id"), {"id": job_id})
    conn.execute(query("DELETE FROM job_parts WHERE job_id = :id"), {"id": job_id})
    return Step(job, (EnqueueJob(job.id, job.request_id),))
