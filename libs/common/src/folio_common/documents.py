"""What clients see of a job: the public document, never the password or internals.

One module, so ``GET /api/v1/jobs/{id}`` and the webhook body can never disagree.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .jobs import Job
from .lifecycle import JobStatus
from .page_reads import TEXT_LAYER, PageRead, page_fields

API_PREFIX = "/api/v1"


def job_path(job_id: str) -> str:
    return f"{API_PREFIX}/jobs/{job_id}"


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def job_document(job: Job, webhook: dict[str, Any] | None = None) -> dict[str, Any]:
    """The job as the API shows it (``options.password`` is never included).

    ``webhook``: its delivery state (:mod:`folio_common.webhook_state`), when read.
    """
    doc = {
        "id": job.id,
        "status": job.status,
        "engine": job.engine,
        "filename": job.filename,
        "size_bytes": job.size_bytes,
        "sha256": job.sha256,
        "pages": job.options.pages,
        "ocr": job.options.ocr_mode,
        "languages": job.options.languages,
        "page_count": job.page_count,
        "progress": {"pages_done": job.pages_done, "pages_total": job.pages_total},
        "parts": {"done": job.parts_done, "total": job.parts_total},
        "attempts": job.attempts,
        "error": (
            {"code": job.error_code, "message": job.error_message} if job.error_code else None
        ),
        "callback_url": job.callback_url,
        "created_at": iso(job.created_at),
        "started_at": iso(job.started_at),
        "finished_at": iso(job.finished_at),
        "expires_at": iso(job.expires_at),
        "purged_at": iso(job.purged_at),
        "links": {
            "self": job_path(job.id),
            "result": (
                f"{job_path(job.id)}/result"
                if job.status == JobStatus.SUCCEEDED and job.purged_at is None
                else None
            ),
        },
    }
    if webhook is not None:
        doc["webhook"] = webhook
    return doc


def page_document(
    number: int, text: str, chars: int, read: PageRead = TEXT_LAYER
) -> dict[str, Any]:
    return {"number": number, "text": text, "chars": chars, **page_fields(read)}
