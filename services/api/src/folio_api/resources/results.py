"""``/api/v1/jobs/{id}/result`` and ``/pages/{n}``: the extracted text and metadata.

A result exists only for a succeeded job whose retention has not passed: a live job is
409 ``not_finished`` (with its status), a failed or cancelled one 409 with the job's own
error code, and a purged one 410 ``gone``.
"""

from __future__ import annotations

import uuid

import falcon
from folio_common import jobs
from folio_common.database import Database
from folio_common.dbapi import Executes
from folio_common.documents import page_document
from folio_common.lifecycle import JobStatus
from folio_common.page_reads import TEXT_LAYER, PageRead, Pages, pages_json, split_pages, summary
from folio_common.queries import query

from folio_api.errors import GONE, NOT_FINISHED, Problem, not_found

#: Separates pages in the ``text/plain`` rendering (what pdftotext emits too).
PAGE_SEPARATOR = "\f"
#: What a form feed inside a page's text becomes in the ``text/plain`` rendering.
PAGE_SEPARATOR_IN_TEXT = "\n"
TEXT_PLAIN = "text/plain; charset=utf-8"


def plain_text(texts: list[str]) -> str:
    """The pages joined by form feeds, so that splitting on ``\f`` gives exactly the pages.

    PDFium's page text can itself contain form feeds (a corpus document of 117 pages gave
    194 pieces); those become line feeds here. The JSON result keeps the text as extracted.
    """
    return PAGE_SEPARATOR.join(t.replace(PAGE_SEPARATOR, PAGE_SEPARATOR_IN_TEXT) for t in texts)


def require_result(job: jobs.Job | None) -> jobs.Job:
    """The job if its result can be read; otherwise the problem that says why not."""
    if job is None:
        raise not_found()
    if job.purged_at is not None:
        raise Problem(falcon.HTTP_410, GONE, "the job's result was deleted", job_status=job.status)
    if job.status == JobStatus.SUCCEEDED:
        return job
    if not job.is_terminal:
        raise Problem(
            falcon.HTTP_409,
            NOT_FINISHED,
            f"the job is {job.status}; its result is not ready",
            job_status=job.status,
        )
    raise Problem(
        falcon.HTTP_409,
        job.error_code or job.status,
        job.error_message or f"the job {job.status}",
        job_status=job.status,
    )


def _read_result(
    conn: Executes, job_id: str, owner: str, page_no: int | None = None
) -> tuple[jobs.Job, Pages, dict[int, PageRead]]:
    """The job and its pages (one with ``page_no``) in ONE statement: one snapshot, so a
    purge cannot fall between them, and one round trip on an autocommit connection."""
    row = conn.execute(
        query(
            f"""SELECT {jobs.JOB_COLUMNS}, {pages_json(page_no is not None)} AS pages
                FROM jobs WHERE id = :id AND owner = :owner"""
        ),
        {"id": job_id, "owner": owner, "page_no": page_no},
    ).first()
    if row is None:
        raise not_found()
    job, listed = jobs.Job.from_row_and(row, "pages")
    require_result(job)
    pages, reads = split_pages(listed)
    return job, pages, reads


class ResultResource:
    """``GET`` the whole result as JSON, or as text when the client prefers ``text/plain``."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def on_get(self, req: falcon.Request, resp: falcon.Response, job_id: uuid.UUID) -> None:
        job, pages, reads = self._db.statement(_read_result, str(job_id), req.context.owner)
        if req.client_prefers(["application/json", "text/plain"]) == "text/plain":
            resp.content_type = TEXT_PLAIN
            resp.text = plain_text([text for _, text, _ in pages])
            return
        resp.media = {
            "job_id": job.id,
            "metadata": job.metadata or {},
            "pages": [page_document(*page, reads.get(page[0], TEXT_LAYER)) for page in pages],
            "ocr": summary(reads),
        }


class PageResource:
    """``GET`` one page of a result; 404 when the document has no such page."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def on_get(
        self, req: falcon.Request, resp: falcon.Response, job_id: uuid.UUID, number: int
    ) -> None:
        _, pages, reads = self._db.statement(_read_result, str(job_id), req.context.owner, number)
        if not pages:
            raise not_found(f"the result has no page {number}")
        resp.media = page_document(*pages[0], reads.get(number, TEXT_LAYER))
