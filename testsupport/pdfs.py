"""Small PDFs made on the fly, so the default test suite needs no corpus."""

from __future__ import annotations

import io

import pikepdf


def page_text(n: int) -> str:
    """The text drawn on page ``n`` (1-based) by :func:`make_pdf`."""
    return f"Folio test page {n}"


FILLER = "the quick brown fox jumps over the lazy dog while Folio reads every word"


def make_pdf(
    pages: int = 1,
    *,
    password: str | None = None,
    title: str = "Folio test",
    lines: int = 1,
    restricted: bool = False,
    form: bool = False,
    endless_from: int | None = None,
) -> bytes:
    """A valid PDF with ``pages`` pages, each showing :func:`page_text` first; optionally
    ``lines - 1`` more lines of filler (dense pages make pdfminer slow enough to watch).

    ``restricted``: encrypted with an owner password only, its permissions forbidding text
    extraction (opens without a password, as many published PDFs do). ``form``: a text
    field on every page, in one AcroForm (what pikepdf warns about when pages are copied).
    ``endless_from``: from this page on, each page also draws :func:`endless_form`, so its
    pdfminer extraction never ends: only a limit or a cancel can stop it, on any machine.
    """
    pdf = pikepdf.new()
    endless = endless_form(pdf) if endless_from is not None else None
    font = pdf.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica
        )
    )
    for n in range(1, pages + 1):
        body = [f"({page_text(n)}) Tj"] + [f"0 -11 Td ({FILLER} {k}) Tj" for k in range(1, lines)]
        content = ("BT /F1 9 Tf 36 760 Td " + " ".join(body) + " ET").encode()
        resources = pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font))
        if endless is not None and endless_from is not None and n >= endless_from:
            content += b" /L Do"
            resources.XObject = pikepdf.Dictionary(L=endless)
        page = pikepdf.Page(
            pikepdf.Dictionary(
                Type=pikepdf.Name.Page,
                MediaBox=[0, 0, 612, 792],
                Resources=resources,
                Contents=pdf.make_stream(content),
            )
        )
        pdf.pages.append(page)
    if form:
        _add_form_fields(pdf)
    pdf.docinfo["/Title"] = title
    out = io.BytesIO()
    encryption: pikepdf.Encryption | bool = False
    if password:
        encryption = pikepdf.Encryption(user=password, owner=password + "-owner")
    elif restricted:
        no_extraction = pikepdf.Permissions(extract=False, accessibility=False)
        encryption = pikepdf.Encryption(user="", owner="folio-owner", allow=no_extraction)
    pdf.save(out, encryption=encryption)
    return out.getvalue()


def _add_form_fields(pdf: pikepdf.Pdf) -> None:
    fields = []
    for n, page in enumerate(pdf.pages, start=1):
        widget = pdf.make_indirect(
            pikepdf.Dictionary(
                Type=pikepdf.Name.Annot,
                Subtype=pikepdf.Name.Widget,
                FT=pikepdf.Name.Tx,
                T=pikepdf.String(f"field{n}"),
                V=pikepdf.String(f"value {n}"),
                Rect=[36, 700, 236, 720],
                P=page.obj,
            )
        )
        page.obj.Annots = pdf.make_indirect(pikepdf.Array([widget]))
        fields.append(widget)
    pdf.Root.AcroForm = pdf.make_indirect(pikepdf.Dictionary(Fields=pikepdf.Array(fields)))


def endless_form(pdf: pikepdf.Pdf, depth: int = 60, leaf_ops: int = 20_000) -> pikepdf.Stream:
    """A form XObject whose pdfminer extraction cannot finish on any machine, in flat memory.

    Form ``L{k}`` draws ``L{k-1}`` twice (a DAG, not a cycle, so no recursion check stops
    it); ``L0`` is ``leaf_ops`` save/restore pairs, which leave nothing behind. Drawing
    ``L{depth}`` is 2**depth leaves of ``leaf_ops`` operators each, and one layout object
    per form drawn (memory grows ~10,000x slower than the work). PDFium keeps what it
    parses instead: with ``pdfium`` the same page ends in ``memory_limit``.
    """
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
    return form


def make_endless_pdf() -> bytes:
    """A one-page PDF whose pdfminer extraction never ends (see :func:`endless_form`)."""
    return make_pdf(1, endless_from=1)
