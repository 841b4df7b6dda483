"""The stable error vocabulary: job ``error_code`` values and HTTP problem ``code`` members."""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    """Why a job failed or a request was refused. Values are part of the public API."""

    INVALID_PDF = "invalid_pdf"
    PASSWORD_REQUIRED = "password_required"
    WRONG_PASSWORD = "wrong_password"
    TOO_MANY_PAGES = "too_many_pages"
    FILE_TOO_LARGE = "file_too_large"
    TIMEOUT = "timeout"
    MEMORY_LIMIT = "memory_limit"
    WORKER_LOST = "worker_lost"
    CANCELLED = "cancelled"
    INTERNAL = "internal"


class JobError(Exception):
    """A permanent failure of a job, carrying its public code. Never retried."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
