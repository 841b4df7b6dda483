"""The job's public status document: what the API returns and webhooks deliver.

One function, so a webhook body and ``GET /api/v1/jobs/{id}`` can never disagree.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .jobs import Job


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def job_document(job: Job, base_path: str = "/api/v1") -> dict[str, Any]:
    """The status of ``job`` as JSON-ready data (never the PDF password)."""
    self_path = f"{base_path}/jobs/{job.id}"
    return {
        "id": job.id,
        "status": job.status,
        "engine": job.engine,
        "filename": job.filename,
        "size_bytes": job.size_bytes,
        "sha256": job.sha256,
        "pages": (job.options or {}).get("pages"),
        "page_count": job.page_count,
        "progress": {"pages_done": job.pages_done, "pages_total": job.pages_total},
        "parts": {"done": job.parts_done, "total": job.parts_total},
        "attempts": job.attempts,
        "error": (
            {"code": job.error_code, "message": job.error_message} if job.error_code else None
        ),
        "request_id": job.request_id,
        "created_at": _iso(job.created_at),
        "started_at": _iso(job.started_at),
        "finished_at": _iso(job.finished_at),
        "expires_at": _iso(job.expires_at),
        "links": {"self": self_path, "result": f"{self_path}/result"},
    }
