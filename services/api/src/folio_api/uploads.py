"""Reading an upload: stream, size-check, hash and spool it, and validate its options.

The body is read in 64 KiB pieces into a :class:`tempfile.SpooledTemporaryFile` (in memory
up to 1 MiB, then on disk) *before* any database work, so a slow client never holds a
pooled connection; the spool is then copied into the blob store inside the job's
transaction. Size and the ``%PDF-`` signature are checked while reading, so an oversized
or non-PDF body is refused without storing anything.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import falcon
from falcon.media.multipart import BodyPart, MultipartForm
from falcon.util import BufferedReader
from folio_common.blobs import read_file_chunks
from folio_common.callback_urls import CallbackRefused, check_at_submission
from folio_common.jobs import Job
from folio_common.options import OCR_MODES, JobOptions, page_ranges, parse_languages
from folio_common.settings import ENGINES, Settings

from folio_api.errors import (
    FILE_TOO_LARGE,
    UNSUPPORTED_MEDIA_TYPE,
    VALIDATION_ERROR,
    Problem,
    validation_error,
)

#: Bytes asked of the client stream per read.
READ_SIZE = 64 * 1024
#: Bytes of an upload kept in memory before the spool moves to a temporary file.
SPOOL_MEMORY = 1024 * 1024
#: Every PDF starts with this, within its first :data:`SIGNATURE_WINDOW` bytes.
PDF_SIGNATURE = b"%PDF-"
SIGNATURE_WINDOW = 1024
#: A multipart body may exceed the file limit by this much (boundaries, option fields).
MULTIPART_OVERHEAD = 64 * 1024
#: Most parts a multipart body may have: the file and a few options.
MAX_BODY_PARTS = 16
#: Largest option field (``callback_url`` is the longest legitimate one).
MAX_FIELD_BYTES = 8 * 1024
#: Longest filename kept (it is only echoed back).
MAX_FILENAME = 255
#: Media types of a raw PDF body.
RAW_MEDIA_TYPES = ("application/pdf", "application/octet-stream")

#: The upload options: multipart fields, or query parameters with either upload form.
OPTION_FIELDS = ("engine", "pages", "password", "callback_url", "ocr", "languages")
#: Query parameters of an upload (both forms): the options and the file's name.
QUERY_FIELDS = (*OPTION_FIELDS, "filename")


@dataclass(frozen=True)
class Options:
    """What the client asked for besides the file."""

    engine: str
    pages: str | None = None
    password: str | None = field(default=None, repr=False)
    callback_url: str | None = None
    ocr: str | None = None
    languages: str | None = None

    def stored(self) -> JobOptions:
        """``jobs.options``: the page range, OCR options and the password the worker needs
        (it drops the password)."""
        return JobOptions(
            pages=self.pages, password=self.password, ocr=self.ocr, languages=self.languages
        )

    def matches(self, job: Job) -> bool:
        """Same options as ``job`` (the password is not compared: the worker drops it)."""
        return (
            job.engine == self.engine
            and job.options.pages == self.pages
            and job.callback_url == self.callback_url
            and job.options.ocr_mode == self.stored().ocr_mode
            and job.options.languages == self.languages
        )


@dataclass
class Upload:
    """A spooled, hashed upload. Close it (or use ``with``) to drop the temporary file."""

    file: Any  # tempfile.SpooledTemporaryFile[bytes]
    size: int
    sha256: str
    filename: str | None
    options: Options

    def chunks(self) -> Iterator[bytes]:
        """The bytes from the start, in blob-store chunks (re-readable for a retried UoW)."""
        self.file.seek(0)
        return read_file_chunks(self.file)

    def close(self) -> None:
        self.file.close()

    def __enter__(self) -> Upload:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def too_large(limit: int) -> Problem:
    return Problem(
        falcon.HTTP_413,
        FILE_TOO_LARGE,
        f"the file exceeds the limit of {limit // (1024 * 1024)} MiB",
        limit_bytes=limit,
    )


def not_a_pdf() -> Problem:
    return Problem(
        falcon.HTTP_415,
        UNSUPPORTED_MEDIA_TYPE,
        "the file is not a PDF (no %PDF- signature in its first 1024 bytes)",
    )


def spool(read: Callable[[int], bytes], limit: int) -> tuple[Any, int, str]:
    """Copy ``read`` to a spool while counting and hashing; refuse early on size or signature.

    Returns (spool positioned at 0, size in bytes, sha256 hex).
    """
    spooled = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY)  # noqa: SIM115
    digest = hashlib.sha256()
    size = 0
    head = b""
    try:
        while chunk := read(READ_SIZE):
            size += len(chunk)
            if size > limit:
                raise too_large(limit)
            if len(head) < SIGNATURE_WINDOW:
                head += chunk[: SIGNATURE_WINDOW - len(head)]
                if len(head) >= SIGNATURE_WINDOW and PDF_SIGNATURE not in head:
                    raise not_a_pdf()
            digest.update(chunk)
            spooled.write(chunk)
        if PDF_SIGNATURE not in head:
            raise not_a_pdf()
        spooled.seek(0)
    except BaseException:
        spooled.close()
        raise
    return spooled, size, digest.hexdigest()


def _valid_pages(value: str) -> bool:
    try:
        page_ranges(value)
    except ValueError:
        return False
    return True


def parse_options(fields: Mapping[str, str], settings: Settings) -> Options:
    """Validate the options; a bad one is 422 naming its ``field``."""
    for name, value in fields.items():
        if "\x00" in value:  # PostgreSQL text and jsonb cannot hold NUL
            raise validation_error(name, f"{name} must not contain NUL characters")
    engine = fields.get("engine") or settings.default_engine
    if engine not in ENGINES:
        raise validation_error("engine", f"engine must be one of {', '.join(ENGINES)}")
    pages = (fields.get("pages") or "").replace(" ", "") or None
    if pages is not None and not _valid_pages(pages):
        raise validation_error(
            "pages", "pages must be page numbers and ranges from 1, such as '1-5,9'"
        )
    callback_url = fields.get("callback_url") or None
    if callback_url is not None:
        try:
            check_at_submission(callback_url, settings.webhook_allow_private)
        except CallbackRefused as exc:
            raise validation_error("callback_url", str(exc)) from None
    ocr = (fields.get("ocr") or "").strip().lower() or None
    if ocr is not None and ocr not in OCR_MODES:
        raise validation_error("ocr", f"ocr must be one of {', '.join(OCR_MODES)}")
    languages = _languages(fields.get("languages"), settings)
    return Options(engine, pages, fields.get("password") or None, callback_url, ocr, languages)


def _languages(value: str | None, settings: Settings) -> str | None:
    """The OCR languages asked for, each one the workers have (``OCR_LANGUAGES``)."""
    value = (value or "").strip()
    if not value:
        return None
    try:
        asked = parse_languages(value)
    except ValueError as exc:
        raise validation_error("languages", f"languages: {exc}") from None
    installed = settings.ocr_languages.split("+")
    missing = [code for code in asked if code not in installed]
    if missing:
        raise validation_error(
            "languages",
            f"OCR language {', '.join(missing)} is not installed; "
            f"installed: {', '.join(installed)}",
        )
    return value


def clean_filename(name: str | None) -> str | None:
    """The last path component, trimmed; only ever echoed back, never used as a path."""
    if not name:
        return None
    # Control characters (NUL, CR/LF, ESC…) have no place in a name that is echoed back.
    printable = "".join(c if c.isprintable() else "_" for c in name)
    base = os.path.basename(printable.replace("\\", "/")).strip()
    return base[:MAX_FILENAME] if base not in ("", ".", "..") else None


def multipart_handler() -> falcon.media.MultipartFormHandler:
    """Falcon's streaming multipart parser, with the part count and field sizes bounded."""
    handler = falcon.media.MultipartFormHandler()
    handler.parse_options.max_body_part_count = MAX_BODY_PARTS
    handler.parse_options.max_body_part_buffer_size = MAX_FIELD_BYTES
    return handler


def _bad_request(detail: str) -> Problem:
    return Problem(falcon.HTTP_400, VALIDATION_ERROR, detail)


def query_fields(req: falcon.Request) -> dict[str, str]:
    """The upload's query parameters; one the API does not know is 422, never ignored.

    Both upload forms read them: generated clients offer the query options with a
    multipart body too, and an option silently dropped would extract the wrong pages.
    """
    for name, value in req.params.items():
        if name not in QUERY_FIELDS:
            raise validation_error(name, f"unknown parameter; expected {', '.join(QUERY_FIELDS)}")
        if isinstance(value, list):  # given twice: which one was meant?
            raise validation_error(name, f"give {name} once")
    return {name: req.get_param(name) or "" for name in QUERY_FIELDS if name in req.params}


def merge_fields(query: Mapping[str, str], form: Mapping[str, str]) -> dict[str, str]:
    """Options from the query and the multipart fields; both naming one differently is 422."""
    for name in query.keys() & form.keys():
        if query[name] != form[name]:
            raise validation_error(
                name, f"{name} differs between the query string and the multipart field"
            )
    return {**query, **form}


def multipart_form(req: falcon.Request, max_bytes: int) -> MultipartForm:
    """The parts of the body, streamed; a chunked body (no Content-Length) too.

    Falcon's own ``get_media()`` needs a Content-Length (it asserts one); gunicorn
    de-chunks ``req.stream``, so a chunked body is read from it, at most ``max_bytes``.
    """
    if req.content_length is not None:
        form: MultipartForm = req.get_media()
        return form
    handler = req.options.media_handlers[falcon.MEDIA_MULTIPART]
    assert isinstance(handler, falcon.media.MultipartFormHandler)
    stream = BufferedReader(req.stream.read, max_bytes)
    return handler.deserialize(stream, req.content_type, None)


def part_names(part: BodyPart) -> tuple[str | None, str | None]:
    """(name, filename) of a part; 400 when its Content-Disposition is not UTF-8."""
    try:
        return part.name, part.filename
    except UnicodeDecodeError:
        raise _bad_request("a part's Content-Disposition header is not valid UTF-8") from None


def read_multipart(req: falcon.Request, settings: Settings) -> Upload:
    """A ``multipart/form-data`` upload: field ``file`` plus option fields, in any order,
    with options (and ``filename``) also accepted as query parameters."""
    limit = settings.max_upload_bytes
    query = query_fields(req)
    fields: dict[str, str] = {}
    repeated: set[str] = set()
    found: tuple[Any, int, str] | None = None
    filename: str | None = None
    form = multipart_form(req, limit + MULTIPART_OVERHEAD)
    try:
        for part in form:
            name, raw_filename = part_names(part)
            if name == "file":
                if found is not None:
                    raise _bad_request("send exactly one 'file' part")
                filename = clean_filename(raw_filename)
                found = spool(part.stream.read, limit)
            elif name in OPTION_FIELDS:
                if name in fields:
                    repeated.add(name)
                fields[name] = part.get_text() or ""
            else:
                raise validation_error(
                    str(name), f"unknown field; expected file, {', '.join(OPTION_FIELDS)}"
                )
        if found is None:
            raise _bad_request("the multipart body has no 'file' part")
        if repeated:  # checked after the loop, so the part count limit comes first
            name = min(repeated)
            raise validation_error(name, f"send the {name} field once")
        options = parse_options(merge_fields(query, fields), settings)
    except BaseException:
        if found is not None:
            found[0].close()
        raise
    spooled, size, sha256 = found
    if "filename" in query:
        filename = clean_filename(query["filename"])
    return Upload(spooled, size, sha256, filename, options)


def read_raw(req: falcon.Request, settings: Settings) -> Upload:
    """A raw ``application/pdf`` body; options and ``filename`` as query parameters."""
    fields = query_fields(req)
    options = parse_options(fields, settings)
    # A chunked body has no Content-Length, and bounded_stream would read none of it;
    # gunicorn de-chunks req.stream and ends it with the body (spool() bounds the size).
    read = req.bounded_stream.read if req.content_length is not None else req.stream.read
    spooled, size, sha256 = spool(read, settings.max_upload_bytes)
    if req.content_length is not None and size != req.content_length:
        # The client closed its side early: a truncated upload is not the client's file.
        spooled.close()
        raise _bad_request(f"the body ended after {size} of {req.content_length} bytes")
    return Upload(spooled, size, sha256, clean_filename(fields.get("filename")), options)


def read_upload(req: falcon.Request, settings: Settings) -> Upload:
    """The upload in whichever form it came; 413 before reading when it is announced too big."""
    media_type = (req.content_type or "").split(";")[0].strip().lower()
    limit = settings.max_upload_bytes
    if media_type == "multipart/form-data":
        if (req.content_length or 0) > limit + MULTIPART_OVERHEAD:
            raise too_large(limit)
        return read_multipart(req, settings)
    if media_type in RAW_MEDIA_TYPES:
        if (req.content_length or 0) > limit:
            raise too_large(limit)
        return read_raw(req, settings)
    raise Problem(
        falcon.HTTP_415,
        UNSUPPORTED_MEDIA_TYPE,
        "send multipart/form-data with a 'file' part, or an application/pdf body",
    )
