"""The documents benchmarks feed Folio: the corpus, or generated PDFs when it is absent."""

from __future__ import annotations

import csv
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pikepdf

from testsupport.pdfs import make_pdf

ROOT = Path(__file__).resolve().parents[1]
CORPUS = Path(os.environ.get("FOLIO_CORPUS", ROOT.parent / "shared" / "corpus"))
#: Corpus categories whose files carry a text layer (used to build big documents).
TEXT_CATEGORIES = ("text", "multicolumn", "cjk", "form", "large")


@dataclass(frozen=True)
class Document:
    name: str
    path: Path
    pages: int
    category: str = "generated"


def corpus_available() -> bool:
    return (CORPUS / "MANIFEST.tsv").exists()


def corpus_documents(categories: Sequence[str] | None = None) -> list[Document]:
    """The corpus files expected to succeed (``expected_outcome`` ok), with page counts."""
    with open(CORPUS / "MANIFEST.tsv", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    found = []
    for row in rows:
        if row["expected_outcome"] != "ok":
            continue
        if categories is not None and row["category"] not in categories:
            continue
        path = CORPUS / row["file"]
        with pikepdf.open(path) as pdf:
            found.append(Document(row["file"], path, len(pdf.pages), row["category"]))
    return found


def generated_documents(out_dir: Path, count: int = 20) -> list[Document]:
    """Stand-ins when the corpus is absent: small generated PDFs of 1-10 pages."""
    docs = []
    for n in range(count):
        pages = 1 + n % 10
        path = out_dir / f"generated-{n:03d}.pdf"
        path.write_bytes(make_pdf(pages))
        docs.append(Document(path.name, path, pages))
    return docs


def benchmark_documents(out_dir: Path) -> list[Document]:
    return corpus_documents() if corpus_available() else generated_documents(out_dir)


def big_document(out_path: Path, min_pages: int) -> Document:
    """At least ``min_pages`` real pages: the corpus' text files concatenated (repeated as
    needed) with pikepdf; generated pages when there is no corpus."""
    if not corpus_available():
        out_path.write_bytes(make_pdf(min_pages))
        return Document(out_path.name, out_path, min_pages)
    sources = [pikepdf.open(d.path) for d in corpus_documents(TEXT_CATEGORIES)]
    try:
        warnings.simplefilter("ignore", pikepdf.PageCopyWarning)  # links and forms: not the point
        big = pikepdf.new()
        while len(big.pages) < min_pages:
            for src in sources:
                big.pages.extend(src.pages)
        big.save(out_path)
        pages = len(big.pages)
        big.close()
    finally:
        for src in sources:
            src.close()
    return Document(out_path.name, out_path, pages)


def one_page_pdf(out_dir: Path) -> Document:
    """A real one-page text document (generated without the corpus)."""
    name = "002-trivial-libre-office-writer.pdf"
    if corpus_available() and (CORPUS / name).exists():
        return Document(name, CORPUS / name, 1, "text")
    path = out_dir / "one-page.pdf"
    path.write_bytes(make_pdf(1))
    return Document(path.name, path, 1)


def pdf_bytes(pages: int) -> bytes:
    return make_pdf(pages)


def read(path: Path) -> bytes:
    with open(path, "rb") as fh:
        return fh.read()
