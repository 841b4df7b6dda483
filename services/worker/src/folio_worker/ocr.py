"""Scanned pages read with Tesseract: which pages need it, rendering within a pixel budget,
orientation, text and mean word confidence.

Runs only in a sandbox (:mod:`.sandbox`), under its time and memory limits, one page per
task, so a page whose render or recognition exceeds them costs that page alone.

Binding: the ``tesserocr`` wheel (the C API, its own single-threaded Tesseract 5.5), chosen
by measuring: on the linn page at 300 dpi it took 2.1 s against 2.5 s for the ``tesseract``
program with ``OMP_THREAD_LIMIT=1`` (research/ocr.md §1; 6.5 s vs 8.4 s here under load),
has no per-call process start, no OpenMP (Debian's build oversubscribes 2 cores, 16 s a
page, and hangs a forked child), and is fork-safe, which the sandbox's forkserver needs.
It reads the language data (``*.traineddata``) of Debian's ``tesseract-ocr-<lang>``.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pikepdf
    import pypdfium2 as pdfium
    from PIL import Image

#: Where Tesseract's language data is looked for when ``TESSDATA_PREFIX`` is not set
#: (Debian bookworm's ``tesseract-ocr-*`` packages, then older and other layouts).
TESSDATA_DIRS = (
    "/usr/share/tesseract-ocr/5/tessdata",
    "/usr/share/tesseract-ocr/4.00/tessdata",
    "/usr/share/tessdata",
    "/usr/local/share/tessdata",
)
#: A page is a scan when images cover at least this share of it and it has no text: every
#: scanned corpus page is covered ≥ 0.78 by one image; a text page's figures far less.
SCAN_COVERAGE = 0.5
#: Bytes of a page's content looked at for inline images.
CONTENT_HEAD = 64 * 1024
#: Tesseract cannot take an image wider or taller than this (OCRmyPDF downsamples to it).
MAX_SIDE_PX = 32767
#: An image this many times coarser than the OCR resolution is upscaled by a whole factor.
LOW_RES_FACTOR = 1.5
#: The most a coarse image is upscaled for OCR (see :func:`scan_dpi`).
MAX_UPSCALE = 3
#: Orientation detection, then layout analysis (``psm 1``): all four orientations of
#: cardinal.pdf read right only with it (psm 3 fails 180° and 270°), for +0.1-0.35 s a page.
PSM_AUTO_OSD = 1


@dataclass(frozen=True)
class PageOcr:
    """One page read by OCR.

    Parameters:
      page: the 1-based page number in the original document.
      text: what Tesseract read ("" for a page without words).
      confidence: Tesseract's mean word confidence, 0-100; None when it found no words.
      seconds: time to render and recognise the page.
      pixels: width and height of the image Tesseract was given.
      failure: why the page could not be read (``render_failed``, ``ocr_failed``); None
        when it was read.
    """

    page: int
    text: str
    confidence: float | None
    seconds: float
    pixels: tuple[int, int]
    failure: str | None = None


def tessdata_dir() -> str | None:
    """The directory holding ``*.traineddata``: ``TESSDATA_PREFIX``, else a usual place."""
    configured = os.environ.get("TESSDATA_PREFIX")
    candidates = ([configured] if configured else []) + list(TESSDATA_DIRS)
    for candidate in candidates:
        if Path(candidate).is_dir() and any(Path(candidate).glob("*.traineddata")):
            return candidate
    return None


def installed_languages() -> set[str]:
    """The languages Tesseract can read here (``osd`` is orientation data, not a language)."""
    where = tessdata_dir()
    if where is None:
        return set()
    return {p.stem for p in Path(where).glob("*.traineddata")} - {"osd"}


def has_images(pdf: pikepdf.Pdf, index: int) -> bool:
    """Whether a page draws any image XObject (its own, or in its forms, a few deep).

    A cheap pre-check from the page's resources, so a page without images is never
    loaded by PDFium here: parsing a hostile content stream can cost seconds of CPU.
    """
    import pikepdf

    def walk(resources: Any, depth: int) -> bool:
        try:
            xobjects = resources.get("/XObject") if resources is not None else None
            if not isinstance(xobjects, pikepdf.Dictionary):
                return False
            for _, xobj in xobjects.items():
                subtype = xobj.get("/Subtype")
                if subtype == pikepdf.Name.Image:
                    return True
                if (
                    subtype == pikepdf.Name.Form
                    and depth < 3
                    and walk(xobj.get("/Resources"), depth + 1)
                ):
                    return True
        except (pikepdf.PdfError, AttributeError, TypeError, ValueError):
            return True  # unreadable resources: let PDFium decide
        return False

    page = pdf.pages[index]
    return walk(page.obj.get("/Resources"), 0) or b"BI" in _content_head(page)


def _content_head(page: pikepdf.Page) -> bytes:
    """The first :data:`CONTENT_HEAD` bytes of a page's content (inline images, ``BI``, sit
    in it), never decoding more: a 2 kB content stream can inflate to gigabytes."""
    import zlib

    import pikepdf

    try:
        contents = page.obj.get("/Contents")
        if isinstance(contents, pikepdf.Array):
            contents = contents[0] if len(contents) else None
        if not isinstance(contents, pikepdf.Stream):
            return b""
        raw = contents.read_raw_bytes()
        filters = contents.get("/Filter")
        if filters is None:
            return bytes(raw[:CONTENT_HEAD])
        if filters == pikepdf.Name.FlateDecode:
            return zlib.decompressobj().decompress(bytes(raw), CONTENT_HEAD)
    except (pikepdf.PdfError, zlib.error):
        pass
    return b""  # another filter: not worth decoding for a pre-check


def is_scanned(page: pdfium.PdfPage) -> bool:
    """No text on the page (visible or an invisible OCR layer) and images cover most of it."""
    import pypdfium2.raw as pdfium_c

    textpage = page.get_textpage()
    try:
        if textpage.get_text_bounded().strip():
            return False
    finally:
        textpage.close()
    width, height = page.get_size()
    if width <= 0 or height <= 0:
        return False
    covered = 0.0
    for obj in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=3):
        left, bottom, right, top = obj.get_bounds()
        w = max(0.0, min(right, width) - max(left, 0.0))
        h = max(0.0, min(top, height) - max(bottom, 0.0))
        covered = max(covered, w * h / (width * height))
    return covered >= SCAN_COVERAGE


def needs_ocr(
    mode: str, path: str, password: str | None, pages: Sequence[int], indexes: Sequence[int],
    pdf: pikepdf.Pdf | None = None,
) -> set[int]:  # fmt: skip
    """The page numbers (of ``pages``, at 0-based ``indexes`` of ``path``) to read by OCR.

    ``off``: none; ``force``: all; ``auto``: the scanned ones (:func:`is_scanned`). With
    ``pdf`` (the same file open in pikepdf), pages without any image are not even loaded.
    """
    if mode == "off" or not pages:
        return set()
    if mode == "force":
        return set(pages)
    candidates = [
        (page_no, index)
        for page_no, index in zip(pages, indexes, strict=True)
        if pdf is None or has_images(pdf, index)
    ]
    if not candidates:
        return set()
    import pypdfium2 as pdfium

    try:
        document = pdfium.PdfDocument(path, password=password or None)
    except pdfium.PdfiumError:
        return set()  # PDFium cannot open it: it cannot render it either
    found = set()
    try:
        for page_no, index in candidates:
            page = document[index]
            try:
                if is_scanned(page):
                    found.add(page_no)
            finally:
                page.close()
    finally:
        document.close()
    return found


def scan_dpi(page: pdfium.PdfPage, dpi: int) -> float:
    """The resolution to render a page at: ``dpi``, or, for a page whose largest image is
    clearly coarser, a whole multiple (at most :data:`MAX_UPSCALE`) of the image's own.
    Measured on multipage.pdf's 72-dpi page 5: rendered at 300 dpi (4.17x) or 288 (4x)
    Tesseract loses its first line; at 144 (2x) or 216 (3x) it reads it (confidence 95).
    """
    import pypdfium2.raw as pdfium_c

    largest, native = 0.0, 0.0
    for obj in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=3):
        left, bottom, right, top = obj.get_bounds()
        width_in, height_in = (right - left) / 72, (top - bottom) / 72
        if width_in <= 0 or height_in <= 0:
            continue
        px_w, px_h = obj.get_px_size()
        if width_in * height_in > largest:
            largest = width_in * height_in
            # Long side over long side: right for an image turned by 90 degrees too.
            native = max(px_w, px_h) / max(width_in, height_in)
    # Only a clearly coarser image: a skewed one's bounds make it look a little coarser.
    if native <= 0 or native * LOW_RES_FACTOR > dpi:
        return float(dpi)
    return native * min(MAX_UPSCALE, max(1, math.floor(dpi / native + 0.01)))


def render(page: pdfium.PdfPage, dpi: float, max_pixels: int) -> Image.Image:
    """The page as a grayscale image at ``dpi``, scaled down to at most ``max_pixels``.

    A page is never rendered at its declared size when that exceeds the budget: a
    116-inch page at 300 dpi would be 1.2 gigapixels. The forced gray bitmap format keeps
    PDFium's peak lowest (research/ocr.md §4: 168 MiB for hugemono at 4000 px).
    """
    import pypdfium2.raw as pdfium_c

    width, height = page.get_size()
    scale = dpi / 72
    area = width * scale * height * scale
    if area > max_pixels:
        scale *= math.sqrt(max_pixels / area)
    longest = max(width, height) * scale
    if longest > MAX_SIDE_PX:
        scale *= MAX_SIDE_PX / longest
    bitmap = page.render(scale=scale, force_bitmap_format=pdfium_c.FPDFBitmap_Gray)
    # to_pil() shares the bitmap's buffer; copy, so the image outlives the bitmap.
    image: Image.Image = bitmap.to_pil().copy()
    return image


class Reader:
    """One Tesseract instance per language set, reused across pages (one per sandbox).

    Instances have no internal lock: a sandbox runs one task at a time.
    """

    def __init__(self) -> None:
        self._apis: dict[str, Any] = {}

    def api(self, languages: str) -> Any:
        import tesserocr  # type: ignore[import-untyped]

        if languages not in self._apis:
            path = tessdata_dir()
            if path is None:
                raise RuntimeError("no Tesseract language data installed")
            self._apis[languages] = tesserocr.PyTessBaseAPI(
                path=path + "/", lang=languages, psm=PSM_AUTO_OSD
            )
        return self._apis[languages]

    def read(self, image: Image.Image, languages: str) -> tuple[str, float | None]:
        """The image's text and its mean word confidence (None: no words)."""
        api = self.api(languages)
        try:
            api.SetImage(image)
            text = api.GetUTF8Text()
            words = [c for c in api.AllWordConfidences() if c >= 0]
        finally:
            api.Clear()
        confidence = round(sum(words) / len(words), 1) if words else None
        return text.strip(), confidence


#: The sandbox's reader: its Tesseract instances are built on the first OCR page and kept
#: for the sandbox's life (Init costs 0.1-0.3 s and 14-42 MiB).
_READER = Reader()


def reader() -> Reader:
    return _READER


def read_page(
    path: str, password: str | None, page: int, index: int, *, languages: str, dpi: int,
    max_pixels: int,
) -> PageOcr:  # fmt: skip
    """Render page ``index`` of ``path`` and read it with Tesseract.

    A page PDFium cannot render, or Tesseract cannot read, comes back with its
    ``failure``; running out of memory or time is the sandbox's to report.
    """
    import logging

    import pypdfium2 as pdfium

    log = logging.getLogger("folio.ocr")
    started = time.monotonic()
    try:
        document = pdfium.PdfDocument(path, password=password or None)
        try:
            pdf_page = document[index]
            image = render(pdf_page, scan_dpi(pdf_page, dpi), max_pixels)
            pdf_page.close()
        finally:
            document.close()
    except (pdfium.PdfiumError, ValueError) as exc:
        log.warning("page %d cannot be rendered: %s", page, exc)
        return PageOcr(
            page, "", None, round(time.monotonic() - started, 3), (0, 0), "render_failed"
        )
    try:
        text, confidence = reader().read(image, languages)
    except RuntimeError as exc:  # tesserocr's failures (missing language data, bad image)
        log.warning("page %d: Tesseract failed: %s", page, exc)
        return PageOcr(
            page, "", None, round(time.monotonic() - started, 3), image.size, "ocr_failed"
        )
    return PageOcr(page, text, confidence, round(time.monotonic() - started, 3), image.size)
