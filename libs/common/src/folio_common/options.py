"""Job options both services read: the stored options type, the ``pages`` syntax and the
OCR languages (callback URLs: :mod:`folio_common.callback_urls`).

The API validates them at submission and the worker applies them; one definition, so the
two can never disagree about what ``"1-5,9"`` means.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class JobOptions:
    """What the worker needs of a job's options, stored as ``jobs.options`` (jsonb).

    Parameters:
      pages: the page selection (``"1-5,9"``); None for every page.
      password: the PDF's password; dropped from the row when the job ends.
      ocr: one of :data:`OCR_MODES`; None means ``auto``.
      languages: Tesseract languages joined by ``+``; None: ``OCR_DEFAULT_LANGUAGES``.
    """

    pages: str | None = None
    password: str | None = field(default=None, repr=False)
    ocr: str | None = None
    languages: str | None = None

    @property
    def ocr_mode(self) -> str:
        return self.ocr or "auto"

    def to_json(self) -> dict[str, Any]:
        """The stored form: only the options that are set."""
        return {name: value for name, value in asdict(self).items() if value is not None}

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> JobOptions:
        """The stored form read back; keys this version does not know are ignored, so a
        row written by a newer release (a rolling deploy) still loads."""
        data = data or {}
        return cls(
            pages=data.get("pages"),
            password=data.get("password"),
            ocr=data.get("ocr"),
            languages=data.get("languages"),
        )


#: ``auto``: OCR the pages without text that images cover; ``force``: OCR every page,
#: ignoring the text layer; ``off``: never.
OCR_MODES = ("auto", "force", "off")
_LANGUAGES = re.compile(r"[a-z][a-z0-9_]*(\+[a-z][a-z0-9_]*)*", re.IGNORECASE)


def parse_languages(spec: str) -> list[str]:
    """``"eng+fra"`` → ``["eng", "fra"]``; ValueError for anything but ``+``-joined codes."""
    if not _LANGUAGES.fullmatch(spec) or len(spec) > 200:
        raise ValueError("expected Tesseract language codes joined by +, such as eng+fra")
    return spec.split("+")


_PAGES = re.compile(r"\d+(-\d+)?(,\d+(-\d+)?)*")


def page_ranges(spec: str) -> list[tuple[int, int]]:
    """``"1-5,9"`` → ``[(1, 5), (9, 9)]`` (1-based, inclusive).

    Raises ValueError for anything else: spaces, page 0, a range that runs backwards.
    """
    if not _PAGES.fullmatch(spec):
        raise ValueError("expected page numbers and ranges like 1-5,9")
    ranges = []
    for item in spec.split(","):
        first, _, last = item.partition("-")
        start, end = int(first), int(last or first)
        if start < 1 or end < start:
            raise ValueError(f"{item!r} is not a range of pages")
        ranges.append((start, end))
    return ranges


def select_pages(spec: str | None, page_count: int) -> list[int]:
    """The pages ``spec`` selects within a ``page_count``-page document; all when empty."""
    if not spec:
        return list(range(1, page_count + 1))
    chosen: set[int] = set()
    for start, end in page_ranges(spec):
        chosen.update(range(start, min(end, page_count) + 1))
    return sorted(chosen)
