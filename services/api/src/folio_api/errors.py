"""HTTP errors as RFC 9457 problem documents, rendered in one place.

Every error the API answers — raised by a responder, by Falcon itself (404, 405, a
malformed multipart body) or by an unexpected exception — leaves through
:func:`serialize_problem` as ``application/problem+json`` with a stable ``code`` member.
A database that is exhausted or unreachable answers 503 with ``Retry-After``, never 500:
clients and load balancers know to retry a 503.
"""

from __future__ import annotations

import json
from typing import Any

import falcon
import sqlalchemy.exc
from folio_common.logs import get_logger
from folio_common.uow import is_transient

log = get_logger("folio.api")

PROBLEM_JSON = "application/problem+json"
#: Seconds a client should wait before retrying a 503.
RETRY_AFTER_S = 2

#: The HTTP problem codes (besides :class:`folio_common.errors.ErrorCode` values).
UNAUTHORIZED = "unauthorized"
NOT_FOUND = "not_found"
VALIDATION_ERROR = "validation_error"
UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
CONFLICT = "conflict"
NOT_FINISHED = "not_finished"
GONE = "gone"
UNAVAILABLE = "unavailable"
FILE_TOO_LARGE = "file_too_large"
RATE_LIMITED = "rate_limited"
INTERNAL = "internal"

#: Every ``code`` an HTTP problem may carry, with its meaning (the docs page lists them).
PROBLEM_CODES: dict[str, str] = {
    UNAUTHORIZED: "no API key, or an unknown one (401)",
    NOT_FOUND: "no such route, job or page for this API key (404)",
    VALIDATION_ERROR: "a malformed request (400) or an invalid option (422, `field` names it)",
    UNSUPPORTED_MEDIA_TYPE: "the body is not a PDF, or not multipart/form-data (415)",
    CONFLICT: "the Idempotency-Key was used for a different upload (409)",
    NOT_FINISHED: "the job has no result yet; `job_status` says where it is (409)",
    GONE: "the job's result was deleted (410)",
    UNAVAILABLE: "the database is busy or unreachable; retry after `Retry-After` (503)",
    FILE_TOO_LARGE: "the upload exceeds MAX_UPLOAD_MB (413)",
    RATE_LIMITED: "a per-key limit was reached (`limit` names it); retry after `Retry-After` (429)",
    INTERNAL: "an unexpected error; the logs hold its traceback under the request id (500)",
}

#: The code of an HTTPError raised by Falcon itself (which knows nothing of ours).
_CODE_BY_STATUS = {
    400: VALIDATION_ERROR,
    401: UNAUTHORIZED,
    404: NOT_FOUND,
    405: VALIDATION_ERROR,
    409: CONFLICT,
    410: GONE,
    413: FILE_TOO_LARGE,
    415: UNSUPPORTED_MEDIA_TYPE,
    422: VALIDATION_ERROR,
    429: RATE_LIMITED,
    503: UNAVAILABLE,
}


def problem_type(code: str) -> str:
    """The problem ``type``: a link to the code's entry on the docs page."""
    return f"/api/v1/docs#error-{code}"


class Problem(falcon.HTTPError):
    """An HTTP error with a problem ``code`` and optional extra members.

    Parameters:
      http_status: the HTTP status, e.g. ``falcon.HTTP_422`` or ``422``.
      code: a :data:`PROBLEM_CODES` key or a job error code.
      detail: one human sentence about this occurrence.
      headers: extra response headers (``Retry-After``, ``WWW-Authenticate``…).
      extra: more members of the problem document (``field``, ``status``…).
    """

    def __init__(
        self,
        http_status: str | int,
        code: str,
        detail: str,
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(http_status, description=detail, headers=headers)
        self.problem_code = code
        self.extra = extra


def validation_error(field: str, detail: str) -> Problem:
    """422 naming the offending option, query parameter or header."""
    return Problem(falcon.HTTP_422, VALIDATION_ERROR, detail, field=field)


def not_found(detail: str = "no such job") -> Problem:
    return Problem(falcon.HTTP_404, NOT_FOUND, detail)


def problem_document(ex: falcon.HTTPError) -> dict[str, Any]:
    """The RFC 9457 members of ``ex``: type, title, status, detail, code, and extras."""
    code = getattr(ex, "problem_code", None) or _CODE_BY_STATUS.get(ex.status_code, INTERNAL)
    if ex.status_code < 500 and code == INTERNAL:
        code = VALIDATION_ERROR
    doc: dict[str, Any] = {
        "type": problem_type(code),
        "title": ex.title,
        "status": ex.status_code,
        "detail": ex.description or ex.title,
        "code": code,
    }
    doc.update(getattr(ex, "extra", {}))
    return doc


def serialize_problem(req: falcon.Request, resp: falcon.Response, ex: falcon.HTTPError) -> None:
    """Falcon's error serializer: every HTTPError becomes ``application/problem+json``."""
    resp.content_type = PROBLEM_JSON
    resp.data = json.dumps(problem_document(ex)).encode()


def unavailable(detail: str) -> Problem:
    return Problem(
        falcon.HTTP_503, UNAVAILABLE, detail, headers={"Retry-After": str(RETRY_AFTER_S)}
    )


def handle_database_error(
    req: falcon.Request, resp: falcon.Response, ex: Exception, params: dict[str, Any]
) -> None:
    """Pool timeouts and outages become 503 + Retry-After; any other database error is a bug."""
    if is_transient(ex):
        log.warning(
            "database unavailable, answering 503",
            error=type(ex).__name__,
            path=req.path,
        )
        raise unavailable("the database is busy or unreachable; retry shortly")
    handle_unexpected(req, resp, ex, params)


def handle_unexpected(
    req: falcon.Request, resp: falcon.Response, ex: Exception, params: dict[str, Any]
) -> None:
    """Any other exception: one JSON log line with the traceback, a problem+json 500."""
    if isinstance(ex, falcon.HTTPError):  # most specific handler lookup found us first
        raise ex
    log.exception("unhandled exception", path=req.path, method=req.method)
    raise Problem(falcon.HTTP_500, INTERNAL, "an unexpected error occurred; it was logged")


def handle_client_timeout(
    req: falcon.Request, resp: falcon.Response, ex: Exception, params: dict[str, Any]
) -> None:
    """The client stopped sending its body (slow-loris or a dead link): 408, connection closed."""
    log.warning("client too slow, answering 408", path=req.path, error=type(ex).__name__)
    raise Problem(
        falcon.HTTP_408,
        VALIDATION_ERROR,
        "the request body did not arrive in time",
        headers={"Connection": "close"},
    )


def install(app: falcon.App[falcon.Request, falcon.Response]) -> None:
    """Register the serializer and the handlers on ``app`` (most general first)."""
    app.set_error_serializer(serialize_problem)
    app.add_error_handler(Exception, handle_unexpected)
    app.add_error_handler(sqlalchemy.exc.TimeoutError, handle_database_error)
    app.add_error_handler(sqlalchemy.exc.DBAPIError, handle_database_error)
    app.add_error_handler(TimeoutError, handle_client_timeout)
