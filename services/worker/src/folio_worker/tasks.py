"""The work a sandbox does, one frozen type per task, each carrying exactly its inputs.

The worker thread builds a task and :meth:`.sandbox.Sandbox.run` sends it to the child,
which calls its ``run()`` there: the task's type is what the child dispatches on, and its
return type is what the parent gets back.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import extraction, ocr, recovery
from .extraction import PageText, Plan
from .ocr import PageOcr


@dataclass(frozen=True)
class InspectTask:
    """Describe a document, check its limits, cut its selected pages into parts.

    Parameters:
      path: the source PDF.
      password: opens an encrypted source (None: try the empty password only).
      pages: the job's ``pages`` option (None: every page).
      max_pages: more pages than this fails the job ``too_many_pages``.
      part_pages: pages per part (parts read their pages from the source).
      engine: when set, a document that fits in one part is extracted in the same call.
      ocr: the job's OCR mode; the pages it selects are in the plan's ``ocr_pages``.
    """

    path: str
    password: str | None
    pages: str | None
    max_pages: int
    part_pages: int
    engine: str | None = None
    ocr: str = "off"

    def run(self) -> Plan:
        try:
            return extraction.inspect(
                self.path,
                password=self.password,
                pages=self.pages,
                max_pages=self.max_pages,
                part_pages=self.part_pages,
                engine=self.engine,
                ocr=self.ocr,
            )
        except extraction.Refused as refused:  # pikepdf cannot read it: the engines try
            return recovery.recover(
                self.path,
                password=self.password,
                pages=self.pages,
                max_pages=self.max_pages,
                engine=self.engine,
                refused=refused,
            )


@dataclass(frozen=True)
class ExtractTask:
    """The text of some pages of a PDF (the source, or a split-off part).

    Parameters:
      path: the PDF to read.
      engine: ``pdfminer`` or ``pdfium``.
      password: opens an encrypted source (split-off parts are saved unencrypted).
      pages: the 1-based page numbers of the original document, labelling the results.
      indexes: the 0-based indexes of those pages in ``path``.
    """

    path: str
    engine: str
    password: str | None
    pages: tuple[int, ...]
    indexes: tuple[int, ...]

    def run(self) -> list[PageText]:
        return extraction.extract(
            self.path,
            engine=self.engine,
            password=self.password,
            pages=self.pages,
            indexes=self.indexes,
        )


@dataclass(frozen=True)
class FindOcrPagesTask:
    """Which pages of a part to read by OCR (the same rule as at inspection).

    Parameters:
      path, password: the PDF (a split-off part, saved unencrypted, or the source).
      mode: the job's OCR mode (``auto`` or ``force``).
      pages: the 1-based page numbers of the original document.
      indexes: their 0-based indexes in ``path``.
    """

    path: str
    password: str | None
    mode: str
    pages: tuple[int, ...]
    indexes: tuple[int, ...]

    def run(self) -> set[int]:
        import pikepdf

        try:
            pdf = pikepdf.open(self.path, password=self.password or "")
        except pikepdf.PdfError:  # a file only the engines read (see .recovery)
            return ocr.needs_ocr(self.mode, self.path, self.password, self.pages, self.indexes)
        with pdf:
            return ocr.needs_ocr(self.mode, self.path, self.password, self.pages, self.indexes, pdf)


@dataclass(frozen=True)
class OcrPageTask:
    """One page rendered and read by Tesseract: a task of its own, so that a page over the
    time or memory limit costs that page alone, and progress moves page by page.

    Parameters:
      path, password: the PDF (the source, or a split-off part saved unencrypted).
      page: the 1-based page number in the original document.
      index: its 0-based index in ``path``.
      languages: Tesseract languages joined by ``+``.
      dpi, max_pixels: the render's resolution and pixel budget.
    """

    path: str
    password: str | None
    page: int
    index: int
    languages: str
    dpi: int
    max_pixels: int

    def run(self) -> PageOcr:
        return ocr.read_page(
            self.path,
            self.password,
            self.page,
            self.index,
            languages=self.languages,
            dpi=self.dpi,
            max_pixels=self.max_pixels,
        )
