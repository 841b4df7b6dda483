"""How each page of a result was read: its text layer, OCR (with a confidence), or not at all.

The worker records a :class:`PageRead` with each page (``job_pages.method``,
``ocr_confidence``, ``unread_reason``); the API shows it on each page and sums it up for
the job (:func:`summary`). One module, so both sides name the methods alike.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class ReadMethod(StrEnum):
    """Values are part of the public API (each page's ``method``)."""

    TEXT = "text"  # the PDF's own text layer, by the job's engine
    OCR = "ocr"  # rendered and read by Tesseract
    NONE = "none"  # could not be read: see the page's ``unread_reason``


@dataclass(frozen=True)
class PageRead:
    """How one page was read.

    Parameters:
      method: see :class:`ReadMethod`.
      confidence: Tesseract's mean word confidence (0-100) for an OCR page with words.
      reason: why a page was not read (an error code: ``timeout``, ``memory_limit``...).
    """

    method: ReadMethod = ReadMethod.TEXT
    confidence: float | None = None
    reason: str | None = None


#: A page read from its text layer: what every page without an entry is.
TEXT_LAYER = PageRead()


#: (page_no, text, chars) of each recorded page, in page order.
Pages = list[tuple[int, str, int]]


def pages_json(one_page: bool = False) -> str:
    """A SQL expression, for a statement over ``jobs``: the job's recorded pages as one
    JSON array of ``[page_no, text, chars, method, ocr_confidence, unread_reason]`` in page
    order (with ``one_page``, only the page ``:page_no``), so that a job and its pages are
    read in one statement."""
    only = " AND page_no = :page_no" if one_page else ""
    return f"""(SELECT coalesce(json_agg(json_build_array(page_no, text, chars, method,
                                                    ocr_confidence, unread_reason)
                                   ORDER BY page_no), '[]')
      FROM job_pages WHERE job_id = jobs.id{only})"""


def split_pages(rows: Sequence[Sequence[Any]]) -> tuple[Pages, dict[int, PageRead]]:
    """Rows of (page_no, text, chars, method, ocr_confidence, unread_reason): the pages,
    and how each was read."""
    pages = [(row[0], row[1], row[2]) for row in rows]
    reads = {row[0]: PageRead(ReadMethod(row[3]), row[4], row[5]) for row in rows}
    return pages, reads


def page_fields(read: PageRead) -> dict[str, Any]:
    """A page document's members about how it was read."""
    return {
        "method": read.method.value,
        "ocr_confidence": read.confidence,
        "unread_reason": read.reason,
    }


def summary(reads: Mapping[int, PageRead]) -> dict[str, Any]:
    """The job's view: which pages OCR read, their mean confidence, which were not read."""
    ocr_pages = sorted(n for n, r in reads.items() if r.method == ReadMethod.OCR)
    confidences = [
        r.confidence
        for r in reads.values()
        if r.method == ReadMethod.OCR and r.confidence is not None
    ]
    return {
        "pages": ocr_pages,
        "mean_confidence": (round(sum(confidences) / len(confidences), 1) if confidences else None),
        "unread": [
            {"number": n, "reason": r.reason}
            for n, r in sorted(reads.items())
            if r.method == ReadMethod.NONE
        ],
    }
