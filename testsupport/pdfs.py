"""Small PDFs made on the fly, so the default test suite needs no corpus."""

from __future__ import annotations

import io

import pikepdf


def page_text(n: int) -> str:
    """The text drawn on page ``n`` (1-based) by :func:`make_pdf`."""
    return f"Folio test page {n}"


def make_pdf(pages: int = 1, *, password: str | None = None, title: str = "Folio test") -> bytes:
    """A valid PDF with ``pages`` pages, each showing :func:`page_text`; optionally encrypted."""
    pdf = pikepdf.new()
    font = pdf.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica
        )
    )
    for n in range(1, pages + 1):
        content = f"BT /F1 12 Tf 72 720 Td ({page_text(n)}) Tj ET".encode()
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
