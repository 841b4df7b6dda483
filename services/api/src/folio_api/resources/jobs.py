"""``/api/v1/jobs`` and ``/api/v1/jobs/{id}``: submit, list, read, cancel and delete jobs.

A submission commits the job row and its source blob in ONE transaction (the lifecycle's
``submit``) — for a source of one blob chunk, one statement on an autocommit connection:
one round trip — and its message is sent only after that commit: a 202 therefore always
means the job is durable. When Redis is down the request still answers 202 — the worker's
sweeper sends every job whose ``enqueued_at`` is still NULL.

The job id is drawn once per request, before the first try: when a connection drops
after the commit but before its answer, the retried statement finds the id taken, writes
nothing, and the request answers with the job the first try made. A dropped connection
therefore yields one job or an error (503), never two.
"""

from __future__ import annotations

import uuid
from typing import Any

import falcon
from folio_common import jobs, webhook_state
from folio_common.blobs import CHUNK_SIZE, BlobStore
from folio_common.documents import job_document, job_path
from folio_common.lifecycle import JobStatus, transitions
from folio_common.lifecycle.effects import EnqueueJob, Step
from folio_common.lifecycle.runner import Lifecycle
from folio_common.logs import bind_contextvars
from folio_common.settings import Settings
from sqlalchemy import Connection

from folio_api.errors import CONFLICT, Problem, not_found, validation_error
from folio_api.longpoll import JobWaiter, preferred_wait
from folio_api.pagination import (
    LISTING_PARAMS,
    MAX_LIMIT,
    InvalidCursor,
    InvalidLimit,
    decode_cursor,
    encode_cursor,
    parse_limit,
    unknown_param,
)
from folio_api.uploads import Upload, read_upload

IDEMPOTENCY_HEADER = "Idempotency-Key"
#: Longest Idempotency-Key accepted.
MAX_IDEMPOTENCY_KEY = 255


def idempotency_key(req: falcon.Request) -> str | None:
    key = req.get_header(IDEMPOTENCY_HEADER)
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > MAX_IDEMPOTENCY_KEY or not key.isprintable():
        raise validation_error(
            IDEMPOTENCY_HEADER, f"{IDEMPOTENCY_HEADER} must be 1-{MAX_IDEMPOTENCY_KEY} characters"
        )
    return key


class JobsResource:
    """``POST`` a PDF to create a job; ``GET`` the caller's jobs, newest first."""

    def __init__(
        self, settings: Settings, lifecycle: Lifecycle, blobs: BlobStore, waiter: JobWaiter
    ) -> None:
        self._settings = settings
        self._lifecycle = lifecycle
        self._db = lifecycle.db
        self._blobs = blobs
        self._waiter = waiter

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        owner: str = req.context.owner
        key = idempotency_key(req)
        wait_s = preferred_wait(req, self._settings.max_wait_s)
        with read_upload(req, self._settings) as upload:
            job, created = self._store(owner, key, upload, req.context.request_id)
            if not created and not (job.sha256 == upload.sha256 and upload.options.matches(job)):
                raise Problem(
                    falcon.HTTP_409,
                    CONFLICT,
                    f"{IDEMPOTENCY_HEADER} was already used for a different file or options",
                    job_id=job.id,
                )
        # On the request's access line (one line per upload, not two).
        bind_contextvars(job_id=job.id)
        if wait_s is not None:
            job = self._waiter.wait(job.id, owner, wait_s, resp) or job
        resp.status = falcon.HTTP_202 if created and not job.is_terminal else falcon.HTTP_200
        resp.location = job_path(job.id)
        resp.media = job_document(job)

    def _store(
        self, owner: str, key: str | None, upload: Upload, request_id: str
    ) -> tuple[jobs.Job, bool]:
        """(job, created): the new job, or the one this Idempotency-Key already made."""
        job_id = str(uuid.uuid4())  # once: every retry submits the same id
        # One chunk: one statement (one round trip); larger sources need a transaction.
        run = self._lifecycle.run_statement if upload.size <= CHUNK_SIZE else self._lifecycle.run
        job = run(self._insert, job_id, owner, key, upload, request_id)
        if job is not None:
            return job, True
        existing = self._db.transaction(jobs.find_submitted, job_id, owner, key)
        if existing is None:  # the key's job was purged between the two statements
            raise Problem(falcon.HTTP_409, CONFLICT, "the upload raced another; try again")
        if existing.id == job_id:
            # Our own first try committed but its answer was lost: its message was never
            # sent. Send it now (a duplicate would be a no-op).
            self._lifecycle.apply((EnqueueJob(job_id, request_id, noted=True),))
            return existing, True
        return existing, False

    def _insert(
        self,
        conn: Connection,
        job_id: str,
        owner: str,
        key: str | None,
        upload: Upload,
        request_id: str,
    ) -> Step[jobs.Job | None]:
        return transitions.submit(
            conn,
            job_id=job_id,
            owner=owner,
            engine=upload.options.engine,
            options=upload.options.stored(),
            filename=upload.filename,
            size_bytes=upload.size,
            sha256=upload.sha256,
            idempotency_key=key,
            callback_url=upload.options.callback_url,
            request_id=request_id,
            source=upload.chunks(),
        )

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        status, limit, before = self._listing_params(req)
        found = self._db.statement(  # one SELECT: one round trip, no BEGIN and COMMIT
            jobs.list_jobs, req.context.owner, status=status, limit=limit + 1, before=before
        )
        page = found[:limit]
        resp.media = {
            "jobs": [job_document(job) for job in page],
            "next_cursor": encode_cursor(page[-1]) if len(found) > limit else None,
        }

    @staticmethod
    def _listing_params(req: falcon.Request) -> tuple[JobStatus | None, int, Any]:
        if (unknown := unknown_param(req.params)) is not None:
            raise validation_error(
                unknown, f"unknown parameter; expected {', '.join(LISTING_PARAMS)}"
            )
        raw_status = req.get_param("status") or None
        if raw_status is not None and raw_status not in set(JobStatus):
            names = ", ".join(JobStatus)
            raise validation_error("status", f"status must be one of {names}")
        status = JobStatus(raw_status) if raw_status is not None else None
        try:
            limit = parse_limit(req.get_param("limit"))
        except InvalidLimit:
            raise validation_error("limit", f"limit must be a whole number 1-{MAX_LIMIT}") from None
        cursor = req.get_param("cursor")
        try:
            before = decode_cursor(cursor) if cursor else None
        except InvalidCursor:
            raise validation_error("cursor", "cursor must be a next_cursor value") from None
        return status, limit, before


class JobResource:
    """``GET`` one job (optionally long-polling); ``DELETE`` cancels it or purges it."""

    def __init__(
        self, settings: Settings, lifecycle: Lifecycle, blobs: BlobStore, waiter: JobWaiter
    ) -> None:
        self._settings = settings
        self._lifecycle = lifecycle
        self._db = lifecycle.db
        self._blobs = blobs
        self._waiter = waiter

    def on_get(self, req: falcon.Request, resp: falcon.Response, job_id: uuid.UUID) -> None:
        wait_s = preferred_wait(req, self._settings.max_wait_s)
        attempts = self._settings.webhook_max_attempts
        if wait_s is None:  # a poll: the job and its webhook's state in one statement
            found = self._db.statement(
                webhook_state.job_and_webhook, str(job_id), req.context.owner, attempts
            )
            if found is None:
                raise not_found()
            job, webhook = found
        else:
            waited = self._waiter.wait(str(job_id), req.context.owner, wait_s, resp)
            if waited is None:
                raise not_found()
            job, webhook = waited, None
            if job.callback_url:
                webhook = self._db.statement(webhook_state.webhook_document, job.id, attempts)
        resp.media = job_document(job, webhook)

    def on_delete(self, req: falcon.Request, resp: falcon.Response, job_id: uuid.UUID) -> None:
        cancelled = self._lifecycle.run(self._cancel_or_purge, str(job_id), req.context.owner)
        if cancelled is None:
            resp.status = falcon.HTTP_204
            return
        resp.media = job_document(cancelled)

    def _cancel_or_purge(self, conn: Connection, job_id: str, owner: str) -> Step[jobs.Job | None]:
        """Cancel a live job (returned); purge a finished one (None)."""
        job = jobs.get_job(conn, job_id, owner)
        if job is None:
            raise not_found()
        if not job.is_terminal:
            cancelled = transitions.cancel(conn, self._blobs, self._settings, job_id)
            if cancelled.value is not None:
                return cancelled
        # Finished (or it finished just now): DELETE removes its results and blobs.
        transitions.purge(conn, self._blobs, job_id)
        return Step(None)
