"""The part planner: cut a document's selected pages into parts of about equal cost.

Cutting by page count put a document's slow pages in one part, and the document's end
waited on that straggler (the corpus mix ran no faster on two processes than on one).
So each page gets an estimated cost, from what its extraction has to chew through —

- its content streams' bytes (glyph and path operators: pdfminer's work grows with them),
- its fonts (each is parsed once per part, and a CJK or Type 3 font is costly),
- its images (decoded by nothing here, but each still costs an XObject lookup),
- and, for a page that needs OCR, a flat :data:`OCR_PAGE_COST` that dwarfs the rest —

and the pages, in document order, are cut where the running cost crosses equal shares.
Parts stay contiguous, so the fonts and resources a run of pages shares are parsed once
per part, and a part still reads its pages from the source in one forward pass.

The estimate only has to rank pages; it is never shown to anyone. It runs in the
sandbox (it opens the PDF with pikepdf) and reads objects' dictionaries only: no stream
is decoded, so planning costs milliseconds even for thousands of pages.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence

import pikepdf

#: Cost of a page with nothing on it: opening it, its empty layout, recording its text.
BASE_PAGE_COST = 2_000.0
#: Cost per byte of (compressed) content stream.
CONTENT_BYTE_COST = 1.0
#: Cost of each font a page uses.
FONT_COST = 3_000.0
#: Cost of each image a page draws.
IMAGE_COST = 500.0
#: Cost of a page that needs OCR: a rendered and recognised page takes seconds, where a
#: text page takes milliseconds (inspection finds the ``ocr_pages``: :mod:`.ocr`).
OCR_PAGE_COST = 2_000_000.0
#: A page's content cost is capped here, so one pathological stream does not get a part
#: of its own at the expense of balancing the rest.
MAX_CONTENT_COST = 2_000_000.0


def _stream_bytes(contents: object) -> int:
    """Bytes of a page's /Contents: one stream or an array of them (as stored)."""
    streams = contents if isinstance(contents, pikepdf.Array) else [contents]
    total = 0
    for stream in streams:
        if isinstance(stream, pikepdf.Stream):
            length = stream.get("/Length")
            total += int(length) if isinstance(length, int | pikepdf.Object) else 0
    return total


def _count(resources: object, kind: str, subtype: str | None = None) -> int:
    try:
        group = resources.get(kind) if isinstance(resources, pikepdf.Dictionary) else None
        if not isinstance(group, pikepdf.Dictionary):
            return 0
        if subtype is None:
            return len(group)
        return sum(1 for _, value in group.items() if value.get("/Subtype") == subtype)
    except (pikepdf.PdfError, ValueError, TypeError, AttributeError):
        return 0


def _form_bytes(resources: object) -> int:
    """Stored bytes of the form XObjects a page's resources name (one level deep)."""
    try:
        group = resources.get("/XObject") if isinstance(resources, pikepdf.Dictionary) else None
        if not isinstance(group, pikepdf.Dictionary):
            return 0
        forms = [v for _, v in group.items() if v.get("/Subtype") == "/Form"]
        return _stream_bytes(pikepdf.Array(forms)) if forms else 0
    except (pikepdf.PdfError, ValueError, TypeError, AttributeError):
        return 0


def page_cost(page: pikepdf.Page) -> float:
    """The estimated extraction cost of one page (see the module's docstring)."""
    obj = page.obj
    try:
        content = _stream_bytes(obj.get("/Contents"))
    except (pikepdf.PdfError, ValueError, TypeError):
        content = 0
    resources = obj.get("/Resources")
    fonts = _count(resources, "/Font")
    images = _count(resources, "/XObject", "/Image")
    # A form XObject is drawn like the page's own content (a figure often holds most of
    # a page's operators: tracemonkey.pdf page 11, 387 KB of form for 3.5 KB of page).
    content += _form_bytes(resources)
    return (
        BASE_PAGE_COST
        + min(content * CONTENT_BYTE_COST, MAX_CONTENT_COST)
        + FONT_COST * fonts
        + IMAGE_COST * images
    )


def page_costs(
    pdf: pikepdf.Pdf, pages: Iterable[int], ocr_pages: set[int] | None = None
) -> dict[int, float]:
    """Cost of each 1-based page number in ``pages``; ``ocr_pages`` cost
    :data:`OCR_PAGE_COST` on top of their own."""
    ocr = ocr_pages or set()
    costs: dict[int, float] = {}
    for number in pages:
        try:
            cost = page_cost(pdf.pages[number - 1])
        except (pikepdf.PdfError, ValueError, TypeError, IndexError):
            cost = BASE_PAGE_COST
        costs[number] = cost + (OCR_PAGE_COST if number in ocr else 0.0)
    return costs


#: How many pdfminer text pages one OCR page counts as when deciding how many parts to cut
#: (a text page takes 40-55 ms, an OCR page 1-3 s): a scan spreads over the worker processes.
OCR_PAGE_WEIGHT = 10
#: A text page's weight in tenths of a pdfminer page, by engine, when deciding how many
#: parts to cut. PDFium reads a text page 30-40x faster than pdfminer (1.3 ms against
#: 40-55 ms): 20 PDFium pages made a part of ~26 ms, about its own fixed cost (a message,
#: a claim, a sandbox call, a record), so a PDFium part holds ten times the pages.
TEXT_PAGE_TENTHS = {"pdfminer": 10, "pdfium": 1}


def part_count(
    selected: Sequence[int],
    part_pages: int,
    ocr_pages: Collection[int] = frozenset(),
    engine: str = "pdfminer",
) -> int:
    """How many parts: as many as ``part_pages`` pdfminer pages per part would give
    (``PART_PAGES``), a PDFium text page counting as a tenth of one and an OCR page as
    :data:`OCR_PAGE_WEIGHT`."""
    page = TEXT_PAGE_TENTHS["pdfminer"]  # the unit PART_PAGES counts in
    ocr = len(set(ocr_pages) & set(selected))
    tenths = TEXT_PAGE_TENTHS[engine] * (len(selected) - ocr) + page * OCR_PAGE_WEIGHT * ocr
    per_part = page * max(1, part_pages)
    return max(1, min(len(selected), -(-tenths // per_part)))  # integer ceiling


def plan_parts(selected: Sequence[int], costs: dict[int, float], parts: int) -> list[list[int]]:
    """``selected`` (document order) cut into at most ``parts`` contiguous runs of about
    equal total cost; none empty.

    Each cut falls where the running cost is nearest the next equal share, so a run
    of heavy pages is spread over several parts and light pages gather in few.
    """
    parts = max(1, min(parts, len(selected)))
    total = sum(costs.get(n, BASE_PAGE_COST) for n in selected)
    share = total / parts
    cut: list[list[int]] = [[]]
    running = 0.0
    for index, number in enumerate(selected):
        cost = costs.get(number, BASE_PAGE_COST)
        left = len(selected) - index  # pages not yet placed, this one included
        still_open = parts - len(cut)  # parts that may still be started after this one
        # Cut before this page when more than half of it would lie past the boundary.
        past = running + cost / 2 >= share * len(cut)
        if cut[-1] and still_open > 0 and (past or left <= still_open):
            cut.append([])
        cut[-1].append(number)
        running += cost
    return cut
