"""The OpenAPI 3.1 description of the API, as a plain dict (served at ``/api/v1/openapi.json``).

Written by hand next to the code rather than generated, so it can say what each status
and problem code means. Tests keep it honest: every route and method of the app must be
described here, and every status a test observes must be documented for its operation.
"""

from __future__ import annotations

from typing import Any

from folio_common.errors import ErrorCode
from folio_common.lifecycle import JobStatus
from folio_common.options import OCR_MODES
from folio_common.page_reads import ReadMethod
from folio_common.settings import ENGINES

from folio_api import __version__
from folio_api.auth import DEV_KEY
from folio_api.errors import PROBLEM_CODES, PROBLEM_JSON, RETRY_AFTER_S
from folio_api.pagination import DEFAULT_LIMIT, MAX_LIMIT

JSON = "application/json"
Doc = dict[str, Any]


def _ref(name: str) -> Doc:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: Doc) -> Doc:
    return {"anyOf": [schema, {"type": "null"}]}


def _problem(description: str, headers: Doc | None = None) -> Doc:
    response: Doc = {
        "description": description,
        "content": {PROBLEM_JSON: {"schema": _ref("Problem")}},
    }
    if headers:
        response["headers"] = headers
    return response


def _json(description: str, schema: Doc, headers: Doc | None = None) -> Doc:
    response: Doc = {"description": description, "content": {JSON: {"schema": schema}}}
    if headers:
        response["headers"] = headers
    return response


REQUEST_ID_HEADER: Doc = {
    "description": "The request id (the client's `X-Request-ID` when valid), also in the logs",
    "schema": {"type": "string"},
}
PREFERENCE_APPLIED: Doc = {
    "description": "`wait=N` when `Prefer: wait` was honoured (N clamped to MAX_WAIT_S)",
    "schema": {"type": "string", "examples": ["wait=30"]},
}
LOCATION: Doc = {"description": "The job's URL", "schema": {"type": "string"}}

#: Problems most operations can answer.
COMMON_PROBLEMS: Doc = {
    "401": _problem(
        "No or unknown API key (`unauthorized`)",
        {"WWW-Authenticate": {"schema": {"type": "string"}}},
    ),
    "429": _problem(
        "A per-key limit was reached (`rate_limited`; `limit` names it: "
        "RATE_LIMIT_PER_MINUTE, MAX_CONCURRENT_UPLOADS, MAX_JOBS_IN_FLIGHT or MAX_STORED_MB); "
        "retry after `Retry-After` s. See docs/security.md",
        {"Retry-After": {"schema": {"type": "integer"}}},
    ),
    "500": _problem("Unexpected error (`internal`); logged with the request id"),
    "503": _problem(
        f"Database busy or unreachable (`unavailable`); retry after {RETRY_AFTER_S} s",
        {"Retry-After": {"schema": {"type": "integer"}}},
    ),
}
OPEN_PROBLEMS: Doc = {"500": COMMON_PROBLEMS["500"]}

JOB_ID: Doc = {
    "name": "job_id",
    "in": "path",
    "required": True,
    "description": "The job's id; a job of another API key is 404",
    "schema": {"type": "string", "format": "uuid"},
}
PREFER: Doc = {
    "name": "Prefer",
    "in": "header",
    "required": False,
    "description": (
        "`wait=N`: answer once the job is terminal or after N seconds (clamped to "
        "MAX_WAIT_S), without holding server resources while waiting"
    ),
    "schema": {"type": "string", "examples": ["wait=30"]},
}
X_REQUEST_ID: Doc = {
    "name": "X-Request-ID",
    "in": "header",
    "required": False,
    "description": "Your id for this request, used when it is ≤ 128 of `[A-Za-z0-9._-]`; "
    "any other value is ignored (never refused) and a fresh id is made",
    "schema": {"type": "string"},
}

OPTION_PROPERTIES: Doc = {
    "engine": {
        "type": "string",
        "enum": list(ENGINES),
        "description": "Extraction engine (default: DEFAULT_ENGINE)",
    },
    "pages": {
        "type": "string",
        "pattern": r"^\d+(-\d+)?(,\d+(-\d+)?)*$",
        "description": "Pages to extract, 1-based, e.g. `1-5,9` (default: all)",
    },
    "password": {
        "type": "string",
        "description": "Password of an encrypted PDF; never returned, dropped when the job ends",
    },
    "callback_url": {
        "type": "string",
        "format": "uri",
        "description": "http(s) URL that receives a signed webhook when the job ends",
    },
    "ocr": {
        "type": "string",
        "enum": list(OCR_MODES),
        "description": "`auto` (default): read with OCR the pages without a text layer that "
        "images cover; `force`: OCR every page, ignoring the text layer; `off`: never",
    },
    "languages": {
        "type": "string",
        "pattern": r"^[A-Za-z][A-Za-z0-9_]*(\+[A-Za-z][A-Za-z0-9_]*)*$",
        "description": "OCR languages, Tesseract codes joined by `+`, e.g. `eng+fra`, each "
        "among OCR_LANGUAGES (default: OCR_DEFAULT_LANGUAGES)",
    },
}

#: An uploaded PDF: `format: binary` makes generators type it as a file, not text.
PDF_FILE: Doc = {"type": "string", "format": "binary", "contentMediaType": "application/pdf"}

#: The document information fields of :data:`SCHEMAS` ``Metadata`` that are free text.
METADATA_TEXT = {
    "title": "the document's title",
    "author": "its author",
    "subject": "its subject",
    "keywords": "its keywords",
    "creator": "the application that made the original",
    "producer": "the application that made the PDF",
}

SCHEMAS: Doc = {
    "Job": {
        "type": "object",
        "required": ["id", "status", "engine", "size_bytes", "sha256", "links"],
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "status": {"type": "string", "enum": [s.value for s in JobStatus]},
            "engine": {"type": "string", "enum": list(ENGINES)},
            "filename": _nullable({"type": "string"}),
            "size_bytes": {"type": "integer"},
            "sha256": {"type": "string"},
            "pages": _nullable({"type": "string", "description": "the requested page range"}),
            "ocr": {"type": "string", "enum": list(OCR_MODES), "description": "the OCR mode"},
            "languages": _nullable(
                {"type": "string", "description": "OCR languages asked for (null: default)"}
            ),
            "page_count": _nullable({"type": "integer", "description": "pages in the PDF"}),
            "progress": {
                "type": "object",
                "properties": {
                    "pages_done": {"type": "integer"},
                    "pages_total": _nullable({"type": "integer"}),
                },
            },
            "parts": {
                "type": "object",
                "properties": {
                    "done": {"type": "integer"},
                    "total": _nullable({"type": "integer"}),
                },
            },
            "attempts": {"type": "integer"},
            "error": _nullable(
                {
                    "type": "object",
                    "properties": {
                        "code": {"type": "string", "enum": [c.value for c in ErrorCode]},
                        "message": {"type": "string"},
                    },
                }
            ),
            "callback_url": _nullable({"type": "string"}),
            "webhook": {
                "type": "object",
                "description": "on GET of a job with a callback_url: where its webhook stands",
                "properties": {
                    "state": {
                        "type": "string",
                        "enum": ["pending", "delivered", "retrying", "failed", "refused"],
                    },
                    "attempts": {"type": "integer"},
                    "last_status_code": _nullable({"type": "integer"}),
                    "last_error": _nullable({"type": "string"}),
                    "last_attempt_at": _nullable({"type": "string", "format": "date-time"}),
                },
            },
            "created_at": {"type": "string", "format": "date-time"},
            "started_at": _nullable({"type": "string", "format": "date-time"}),
            "finished_at": _nullable({"type": "string", "format": "date-time"}),
            "expires_at": _nullable(
                {"type": "string", "format": "date-time", "description": "result deleted then"}
            ),
            "purged_at": _nullable({"type": "string", "format": "date-time"}),
            "links": {
                "type": "object",
                "properties": {
                    "self": {"type": "string"},
                    "result": _nullable({"type": "string"}),
                },
            },
        },
    },
    "JobList": {
        "type": "object",
        "required": ["jobs", "next_cursor"],
        "properties": {
            "jobs": {"type": "array", "items": _ref("Job")},
            "next_cursor": _nullable(
                {"type": "string", "description": "pass as `cursor` for the next page"}
            ),
        },
    },
    "Upload": {
        "type": "object",
        "description": "A multipart upload: the PDF and its options (another field is 422)",
        "required": ["file"],
        "properties": {"file": PDF_FILE, **OPTION_PROPERTIES},
        "additionalProperties": False,
    },
    "Page": {
        "type": "object",
        "required": ["number", "text", "chars"],
        "properties": {
            "number": {"type": "integer", "minimum": 1},
            "text": {"type": "string"},
            "chars": {"type": "integer"},
            "method": {
                "type": "string",
                "enum": [m.value for m in ReadMethod],
                "description": "`text`: the PDF's text layer; `ocr`: read by Tesseract; "
                "`none`: not read (see `unread_reason`)",
            },
            "ocr_confidence": _nullable(
                {"type": "number", "description": "Tesseract's mean word confidence, 0-100"}
            ),
            "unread_reason": _nullable(
                {
                    "type": "string",
                    "description": "why the page was not read: `timeout`, `memory_limit`, "
                    "`invalid_pdf`, `render_failed`, `ocr_failed`",
                }
            ),
        },
    },
    "OcrSummary": {
        "type": "object",
        "description": "Which pages OCR read, their mean word confidence, which were not read",
        "properties": {
            "pages": {"type": "array", "items": {"type": "integer"}},
            "mean_confidence": _nullable({"type": "number"}),
            "unread": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "number": {"type": "integer"},
                        "reason": {"type": "string"},
                    },
                },
            },
        },
    },
    "Result": {
        "type": "object",
        "required": ["job_id", "metadata", "pages"],
        "properties": {
            "job_id": {"type": "string", "format": "uuid"},
            "metadata": _ref("Metadata"),
            "pages": {"type": "array", "items": _ref("Page")},
            "ocr": _ref("OcrSummary"),
        },
    },
    "Metadata": {
        "type": "object",
        "description": (
            "What the PDF says of itself. Every member may be absent (a result made by an "
            "older worker) or null (the PDF does not say); more members may be added."
        ),
        "properties": {
            **{
                name: _nullable({"type": "string", "description": description})
                for name, description in METADATA_TEXT.items()
            },
            "created": _nullable({"type": "string", "description": "creation date (ISO 8601)"}),
            "modified": _nullable({"type": "string", "description": "last change (ISO 8601)"}),
            "pdf_version": _nullable({"type": "string", "examples": ["1.7"]}),
            "page_count": _nullable({"type": "integer", "description": "pages in the PDF"}),
            "encrypted": _nullable({"type": "boolean"}),
            "text_extraction_allowed": _nullable(
                {"type": "boolean", "description": "the PDF's permissions (text is extracted)"}
            ),
            "linearized": _nullable({"type": "boolean", "description": "fast web view"}),
        },
        "additionalProperties": True,
    },
    "Problem": {
        "type": "object",
        "description": "RFC 9457 problem details",
        "required": ["type", "title", "status", "detail", "code"],
        "properties": {
            "type": {"type": "string", "description": "link to the code's documentation"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "code": {
                "type": "string",
                "enum": sorted({*PROBLEM_CODES, *(c.value for c in ErrorCode)}),
            },
            "field": {"type": "string", "description": "422: the invalid option or parameter"},
        },
        "additionalProperties": True,
    },
    "Stats": {
        "type": "object",
        "required": ["jobs", "failures", "stuck", "oldest_queued_s", "queues", "workers"],
        "properties": {
            "jobs": _nullable(
                {
                    "type": "object",
                    "description": "jobs per status",
                    "additionalProperties": {"type": "integer"},
                }
            ),
            "failures": _nullable(
                {
                    "type": "object",
                    "description": "failed jobs per error code",
                    "additionalProperties": {"type": "integer"},
                }
            ),
            "stuck": _nullable(
                {"type": "integer", "description": "processing, heartbeat older than STUCK_AFTER_S"}
            ),
            "oldest_queued_s": _nullable(
                {"type": "number", "description": "wait of the oldest queued job (0: none)"}
            ),
            "queues": _nullable(
                {
                    "type": "object",
                    "additionalProperties": {
                        "type": "object",
                        "properties": {
                            "ready": {"type": "integer"},
                            "delayed": {"type": "integer"},
                            "in_flight": {"type": "integer"},
                        },
                    },
                }
            ),
            "workers": {
                "type": "object",
                "properties": {
                    "alive": _nullable({"type": "integer"}),
                    "pages_per_s": _nullable({"type": "number"}),
                },
            },
        },
    },
    "Health": {
        "type": "object",
        "required": ["status", "checks"],
        "properties": {
            "status": {"type": "string", "enum": ["ok", "error"]},
            "checks": {
                "type": "object",
                "additionalProperties": {
                    "type": "object",
                    "properties": {
                        "status": {"type": "string", "enum": ["ok", "error"]},
                        "latency_ms": {"type": "number"},
                        "reason": {"type": "string"},
                    },
                },
            },
            "failing": {"type": "array", "items": {"type": "string"}},
            "workers": {
                "type": "object",
                "properties": {"alive": _nullable({"type": "integer"})},
            },
            "pool": {"type": "object", "additionalProperties": {"type": "number"}},
        },
    },
}

NOT_FOUND = _problem("No such job for this API key (`not_found`)")
RESULT_PROBLEMS: Doc = {
    "404": NOT_FOUND,
    "409": _problem(
        "No result: `not_finished` while queued or processing (`job_status` says which); "
        "the job's error code when it failed or was cancelled"
    ),
    "410": _problem("The result was deleted (`gone`): retention passed, or DELETE"),
}

QUERY_AND_FIELD = " (with a multipart body, a field of the same name must agree)"


def _empty_is_absent(parameter: Doc) -> Doc:
    """An optional query parameter that the API takes as left out when sent empty
    (``?status=``), as HTML forms and URL builders send them: said in its description, and
    by ``allowEmptyValue`` to clients and fuzzers. OpenAPI 3.1 discourages the keyword, but
    its alternative, ``anyOf`` with ``""``, would widen the type that generated clients
    offer for every option."""
    description = f"{parameter['description']}; empty is the same as left out"
    return {**parameter, "description": description, "allowEmptyValue": True}


SUBMIT: Doc = {
    "operationId": "createJob",
    "summary": "Submit a PDF",
    "description": (
        "Upload as `multipart/form-data` (field `file` plus option fields) or as a raw "
        "`application/pdf` body. The options may be sent as query parameters with either "
        "form; a multipart field and a query parameter naming one option must agree. An "
        "unknown or repeated field or parameter is 422 naming it (never ignored); one sent "
        "empty is the same as one left out. The job "
        "and its file are stored durably before the answer; it is then queued for a worker."
    ),
    "parameters": [
        {
            "name": "Idempotency-Key",
            "in": "header",
            "required": False,
            "description": (
                "Retry-safe submissions: the same key (per API key) with the same file and "
                "options answers 200 with the first job; with different ones 409"
            ),
            "schema": {"type": "string", "maxLength": 255},
        },
        PREFER,
        X_REQUEST_ID,
        *(
            _empty_is_absent(
                {
                    "name": name,
                    "in": "query",
                    "required": False,
                    "description": f"either upload form: {schema['description']}"
                    + (QUERY_AND_FIELD if name in OPTION_PROPERTIES else ""),
                    "schema": {k: v for k, v in schema.items() if k != "description"},
                }
            )
            for name, schema in {
                **OPTION_PROPERTIES,
                "filename": {
                    "type": "string",
                    "description": "the file's name, echoed back (default: the file part's)",
                },
            }.items()
        ),
    ],
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {"schema": _ref("Upload")},
            "application/pdf": {"schema": PDF_FILE},
        },
    },
    "responses": {
        "200": _json(
            "The job already made with this Idempotency-Key, or (with `Prefer: wait`) "
            "the job once finished",
            _ref("Job"),
            {"Location": LOCATION, "Preference-Applied": PREFERENCE_APPLIED},
        ),
        "202": _json(
            "Accepted: the job is stored and queued",
            _ref("Job"),
            {"Location": LOCATION, "Preference-Applied": PREFERENCE_APPLIED},
        ),
        "400": _problem("Malformed multipart body, or no `file` part (`validation_error`)"),
        "408": _problem("The body stopped arriving for 30 s (`validation_error`)"),
        "409": _problem("Idempotency-Key already used for another file or options (`conflict`)"),
        "413": _problem("The file exceeds MAX_UPLOAD_MB (`file_too_large`)"),
        "415": _problem("Not a PDF, or an unsupported Content-Type (`unsupported_media_type`)"),
        "422": _problem("An invalid option; `field` names it (`validation_error`)"),
        **COMMON_PROBLEMS,
    },
}

LIST: Doc = {
    "operationId": "listJobs",
    "summary": "List your jobs, newest first",
    "parameters": [
        _empty_is_absent(
            {
                "name": "status",
                "in": "query",
                "required": False,
                "description": "only jobs in this status",
                "schema": {"type": "string", "enum": [s.value for s in JobStatus]},
            }
        ),
        {
            "name": "limit",
            "in": "query",
            "required": False,
            "schema": {
                "type": "integer",
                "minimum": 1,
                "maximum": MAX_LIMIT,
                "default": DEFAULT_LIMIT,
            },
        },
        _empty_is_absent(
            {
                "name": "cursor",
                "in": "query",
                "required": False,
                "description": "`next_cursor` of the previous page",
                "schema": {"type": "string"},
            }
        ),
        X_REQUEST_ID,
    ],
    "responses": {
        "200": _json("A page of jobs", _ref("JobList")),
        "422": _problem("Invalid status, limit or cursor; `field` names it"),
        **COMMON_PROBLEMS,
    },
}

GET_JOB: Doc = {
    "operationId": "getJob",
    "summary": "Read a job (optionally waiting for it to finish)",
    "parameters": [JOB_ID, PREFER, X_REQUEST_ID],
    "responses": {
        "200": _json("The job", _ref("Job"), {"Preference-Applied": PREFERENCE_APPLIED}),
        "404": NOT_FOUND,
        **COMMON_PROBLEMS,
    },
}

DELETE_JOB: Doc = {
    "operationId": "deleteJob",
    "summary": "Cancel a live job, or delete a finished job's result and file",
    "parameters": [JOB_ID, X_REQUEST_ID],
    "responses": {
        "200": _json("The job, now cancelled", _ref("Job")),
        "204": {"description": "The finished job's result and file were deleted"},
        "404": NOT_FOUND,
        **COMMON_PROBLEMS,
    },
}

GET_RESULT: Doc = {
    "operationId": "getResult",
    "summary": "The extracted text and metadata",
    "description": (
        "JSON by default. `Accept: text/plain` gives the pages' text joined by form feeds "
        "(U+000C): a form feed within a page's text is sent as a line feed, so splitting "
        "the text on form feeds gives exactly one piece per page of the result, in order "
        "(the JSON keeps each page's text as extracted)."
    ),
    "parameters": [JOB_ID, X_REQUEST_ID],
    "responses": {
        "200": {
            "description": "The result",
            "content": {
                JSON: {"schema": _ref("Result")},
                "text/plain": {
                    "schema": {
                        "type": "string",
                        "description": "pages joined by U+000C; none inside a page's text",
                    }
                },
            },
        },
        **RESULT_PROBLEMS,
        **COMMON_PROBLEMS,
    },
}

GET_PAGE: Doc = {
    "operationId": "getPage",
    "summary": "One page of the result",
    "parameters": [
        JOB_ID,
        {
            "name": "number",
            "in": "path",
            "required": True,
            "description": "1-based page number",
            "schema": {"type": "integer", "minimum": 1},
        },
        X_REQUEST_ID,
    ],
    "responses": {
        "200": _json("The page", _ref("Page")),
        **RESULT_PROBLEMS,
        "404": _problem("No such job, or no such page in its result (`not_found`)"),
        **COMMON_PROBLEMS,
    },
}

HEALTH: Doc = {
    "operationId": "health",
    "summary": "Dependencies: PostgreSQL and Redis, pool state, live workers",
    "security": [],
    "responses": {
        "200": _json("Every check passed", _ref("Health")),
        "503": _json("A check failed; `failing` names it", _ref("Health")),
        **OPEN_PROBLEMS,
    },
}

LIVE: Doc = {
    "operationId": "live",
    "summary": "Liveness of the process alone",
    "security": [],
    "responses": {
        "200": _json(
            "Alive",
            {"type": "object", "properties": {"status": {"type": "string", "const": "ok"}}},
        ),
        **OPEN_PROBLEMS,
    },
}

OPENAPI: Doc = {
    "operationId": "openapi",
    "summary": "This document",
    "security": [],
    "responses": {"200": _json("OpenAPI 3.1", {"type": "object"}), **OPEN_PROBLEMS},
}

DOCS: Doc = {
    "operationId": "docs",
    "summary": "Human-readable API reference (renders this document, no external assets)",
    "security": [],
    "responses": {
        "200": {"description": "HTML", "content": {"text/html": {"schema": {"type": "string"}}}},
        **OPEN_PROBLEMS,
    },
}

METRICS: Doc = {
    "operationId": "metrics",
    "summary": "Prometheus metrics: requests, pool, jobs, queues, workers",
    "description": (
        "Prometheus text exposition format 0.0.4. Fleet-wide for the `METRICS_TOKEN` (a "
        "scraper's token that is no tenant's key) or a key named in `OPERATOR_KEYS`; any "
        "other API key gets its own jobs' `folio_jobs*` figures only. Sent as "
        "`Authorization: Bearer <token>`. HTTP and pool figures are summed over the "
        "replica's gunicorn processes (pool gauges also per `pid`); job, queue and worker "
        "figures are read from PostgreSQL and Redis at each scrape "
        "(`folio_metrics_source_up` says whether each answered). See docs/operations.md."
    ),
    "security": [{"bearer": []}],
    "responses": {
        "200": {
            "description": "The metrics",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        },
        "401": COMMON_PROBLEMS["401"],
        **OPEN_PROBLEMS,
    },
}

STATS: Doc = {
    "operationId": "stats",
    "summary": "The fleet at a glance: jobs per status, stuck jobs, queues, workers",
    "description": (
        "Counts over every tenant's jobs (no job details) for a key named in "
        "`OPERATOR_KEYS`; any other key gets counts over its own jobs, with `queues` and "
        "`workers` null (they are shared). A member is `null` when its source "
        "(PostgreSQL or Redis) did not answer."
    ),
    "responses": {"200": _json("The figures", _ref("Stats")), **COMMON_PROBLEMS},
}

STATUS_PAGE: Doc = {
    "operationId": "statusPage",
    "summary": "Status page: upload a PDF, watch it, read its text, see the fleet",
    "description": "Self-contained HTML; it asks for an API key and sends it on every call",
    "security": [],
    "responses": {
        "200": {"description": "HTML", "content": {"text/html": {"schema": {"type": "string"}}}},
        **OPEN_PROBLEMS,
    },
}


def document() -> Doc:
    """The whole OpenAPI document."""
    problem_codes = {**PROBLEM_CODES, **{c.value: "a job's error code" for c in ErrorCode}}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Folio",
            "version": __version__,
            "description": (
                "Asynchronous PDF text extraction. Submit a PDF, get a job id at once, then "
                "poll, long-poll (`Prefer: wait=N`) or receive a webhook. Authenticate with "
                f"`Authorization: Bearer <key>` (local default without API_KEYS: `{DEV_KEY}`). "
                "Errors are RFC 9457 `application/problem+json` with a stable `code`."
            ),
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": {
            "/api/v1/jobs": {"post": SUBMIT, "get": LIST},
            "/api/v1/jobs/{job_id}": {"get": GET_JOB, "delete": DELETE_JOB},
            "/api/v1/jobs/{job_id}/result": {"get": GET_RESULT},
            "/api/v1/jobs/{job_id}/pages/{number}": {"get": GET_PAGE},
            "/api/v1/health": {"get": HEALTH},
            "/api/v1/health/live": {"get": LIVE},
            "/api/v1/openapi.json": {"get": OPENAPI},
            "/api/v1/docs": {"get": DOCS},
            "/api/v1/metrics": {"get": METRICS},
            "/api/v1/stats": {"get": STATS},
            "/": {"get": STATUS_PAGE},
        },
        "components": {
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API key from API_KEYS (`name:key`)",
                }
            },
            "schemas": SCHEMAS,
        },
        "x-problem-codes": problem_codes,
    }
