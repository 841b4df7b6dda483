"""Small PDFs made on the fly, so the default test suite needs no corpus."""

from __future__ import annotations

import io

import pikepdf


def page_text(n: int) -> str:
    """The text drawn on page ``n`` (1-based) by :func:`make_pdf`."""
    return f"Folio test page {n}"


FILLER = "the quick brown fox jumps over the lazy dog while Folio reads every word"


def make_pdf(
    pages: int = 1, *, password: str | None = None, title: str = "Folio test", lines: int = 1
) -> bytes:
    """A valid PDF with ``pages`` pages, each showing :func:`page_text` first; optionally
    ``lines - 1`` more lines of filler (dense pages make pdfminer slow enough to watch)."""
    pdf = pikepdf.new()
    font = pdf.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica
        )
    )
    for n in range(1, pages + 1):
        body = [f"({page_text(n)}) Tj"] + [f"0 -11 Td ({FILLER} {k}) Tj" for k in range(1, lines)]
        content = ("BT /F1 9 Tf 36 760 Td " + " ".join(body) + " ET").encode()
        page = pikepdf.Page(
            pikepdf.Dictionary(
                Type=pikepdf.Name.Page,
                MediaBox=[0, 0, 612, 792],
                Resources=pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font)),
                Contents=pdf.make_stream(content),
            )
        )
        pdf.pages.append(page)
    pdf.docinfo["/Title"] = title
    out = io.BytesIO()
    encryption = pikepdf.Encryption(user=password, owner=password + "-owner") if password else False
    pdf.save(out, encryption=encryption)
    return out.getvalue()


def make_endless_pdf(depth: int = 60, leaf_ops: int = 20_000) -> bytes:
    """A one-page PDF whose pdfminer extraction cannot finish on any machine, in flat memory.

    Form XObject ``L{k}`` draws ``L{k-1}`` twice (a DAG, not a cycle, so no recursion check
    stops it); ``L0`` is ``leaf_ops`` save/restore pairs, which leave nothing behind. The page
    draws ``L{depth}``: 2**depth leaves, each ``leaf_ops`` operators of work for the extractor,
    and one layout object per form drawn (memory grows ~10,000x slower than the work).
    PDFium keeps what it parses instead: with ``pdfium`` it ends in ``memory_limit``.
    """
    pdf = pikepdf.new()
    bbox = [0, 0, 612, 792]
    form = pdf.make_stream(b"q Q " * leaf_ops, Type=pikepdf.Name.XObject,
                           Subtype=pikepdf.Name.Form, BBox=bbox)  # fmt: skip
    for _ in range(depth):
        form = pdf.make_stream(
            b"/L Do /L Do",
            Type=pikepdf.Name.XObject,
            Subtype=pikepdf.Name.Form,
            BBox=bbox,
            Resources=pikepdf.Dictionary(XObject=pikepdf.Dictionary(L=form)),
        )
    page = pikepdf.Page(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Page,
            MediaBox=bbox,
            Resources=pikepdf.Dictionary(XObject=pikepdf.Dictionary(L=form)),
            Contents=pdf.make_stream(b"/L Do"),
        )
    )
    pdf.pages.append(page)
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()
