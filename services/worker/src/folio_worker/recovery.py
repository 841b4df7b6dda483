"""Damaged files: when pikepdf refuses a PDF, the extraction engines may still read it.

qpdf (under pikepdf) is strict about a file's structure; PDFium and pdfminer each repair
differently: a loop in the page tree (pages-loop.pdf) refuses pikepdf while both engines
read its page. So before a job fails ``invalid_pdf``, the engines try, the job's own first.
A recovered document is one part read from the source (it cannot be split without
pikepdf), with only the metadata an engine can tell, and succeeds only if some page has
text: an engine that "opens" garbage and finds nothing must not turn an error into an
empty success.
"""

from __future__ import annotations

import logging
from typing import Any

from folio_common.errors import ErrorCode, JobError
from folio_common.options import select_pages

from . import extraction

log = logging.getLogger("folio.extraction")

#: The metadata members :func:`extraction.describe` gives, unknown for a recovered file.
UNKNOWN_METADATA = (
    "title", "author", "subject", "keywords", "creator", "producer", "created", "modified",
    "pdf_version", "encrypted", "text_extraction_allowed", "linearized",
)  # fmt: skip


def engines_from(engine: str | None) -> list[str]:
    """The engines to try, the job's own first."""
    names = list(extraction.ENGINE_NAMES)
    return [engine, *(n for n in names if n != engine)] if engine in names else names


def page_count(engine: str, path: str, password: str | None, max_pages: int) -> int:
    """Pages the engine finds (counting stops past ``max_pages``); JobError if it cannot open."""
    if engine == "pdfium":
        import pypdfium2 as pdfium

        try:
            document = pdfium.PdfDocument(path, password=password or None)
        except pdfium.PdfiumError as exc:
            raise JobError(ErrorCode.INVALID_PDF, str(exc)) from None
        try:
            return len(document)
        finally:
            document.close()
    from pdfminer.pdfdocument import PDFDocument
    from pdfminer.pdfpage import PDFPage
    from pdfminer.pdfparser import PDFParser
    from pdfminer.psexceptions import PSException

    count = 0
    with open(path, "rb") as fh:
        try:
            document = PDFDocument(PDFParser(fh), password=password or "")
            for _ in PDFPage.create_pages(document):
                count += 1
                if count > max_pages:
                    break
        except (PSException, ValueError, KeyError, TypeError, RecursionError) as exc:
            if not count:
                raise JobError(ErrorCode.INVALID_PDF, str(exc)[:200]) from None
    return count


def recover(
    path: str,
    *,
    password: str | None,
    pages: str | None,
    max_pages: int,
    engine: str | None,
    refused: JobError,
) -> extraction.Plan:
    """A one-part plan, with its text, from the first engine that reads the file; else
    ``refused`` (pikepdf's own error) is raised."""
    for name in engines_from(engine):
        try:
            count = page_count(name, path, password, max_pages)
        except JobError:
            continue
        if count == 0:
            continue
        if count > max_pages:
            raise JobError(ErrorCode.TOO_MANY_PAGES, f"more than the limit of {max_pages} pages")
        selected = select_pages(pages, count)
        if not selected:
            continue
        try:
            texts = extraction.extract(
                path, engine=name, password=password, pages=selected,
                indexes=[n - 1 for n in selected],
            )  # fmt: skip
        except JobError:
            continue
        if any(text.strip() for _, text in texts):
            log.info("pikepdf refused the PDF; %s read %d pages", name, len(texts))
            metadata: dict[str, Any] = dict.fromkeys(UNKNOWN_METADATA)
            metadata.update(page_count=count, recovered_by=name)
            plan = extraction.Plan(page_count=count, metadata=metadata)
            plan.parts.append(extraction.PartPlan(selected))
            plan.texts = texts
            return plan
    raise refused
