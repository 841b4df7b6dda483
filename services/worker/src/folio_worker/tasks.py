"""The work a sandbox does, one frozen type per task, each carrying exactly its inputs.

The worker thread builds a task and :meth:`.sandbox.Sandbox.run` sends it to the child,
which calls its ``run()`` there: the task's type is what the child dispatches on, and its
return type is what the parent gets back.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import extraction
from .extraction import PageText, Plan


@dataclass(frozen=True)
class InspectTask:
    """Describe a document, check its limits, cut its selected pages into parts.

    Parameters:
      path: the source PDF.
      password: opens an encrypted source (None: try the empty password only).
      pages: the job's ``pages`` option (None: every page).
      max_pages: more pages than this fails the job ``too_many_pages``.
      part_pages: pages per part; split-off parts are written to ``out_dir``.
      engine: when set, a document that fits in one part is extracted in the same call.
    """

    path: str
    password: str | None
    pages: str | None
    max_pages: int
    part_pages: int
    out_dir: str
    engine: str | None = None

    def run(self) -> Plan:
        return extraction.inspect(
            self.path,
            password=self.password,
            pages=self.pages,
            max_pages=self.max_pages,
            part_pages=self.part_pages,
            out_dir=self.out_dir,
            engine=self.engine,
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
