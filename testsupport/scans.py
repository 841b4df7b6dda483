"""Scanned pages with exact ground truth: known text drawn into a text PDF, rendered by
PDFium, and the image alone wrapped in a new PDF (no text layer), like a scanner's output.
"""

from __future__ import annotations

import io
import zlib

import pikepdf
import pypdfium2 as pdfium

#: English prose for OCR accuracy tests: common words, punctuation and digits.
PROSE = (
    "Folio reads scanned pages with Tesseract, one page at a time.",
    "Every job has its own limits of time and memory, checked by the sandbox.",
    "The quick brown fox jumps over the lazy dog; 12 boxes cost 345 dollars.",
    "A page that cannot be read is recorded with its reason, and the rest succeed.",
    "Invoices, contracts and letters arrive as images more often than as text.",
    "Workers share the parts of a long document, so a scan spreads over processes.",
)


def text_pdf(
    pages: list[list[str]], size: int = 12, media: tuple[float, float] = (612, 792)
) -> bytes:
    """A PDF whose page ``i`` shows the lines ``pages[i]`` in Helvetica ``size`` pt."""
    pdf = pikepdf.new()
    font = pdf.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica
        )
    )
    for lines in pages:
        escaped = [
            line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") for line in lines
        ]
        body = " ".join(f"({line}) Tj 0 -{size * 1.6:g} Td" for line in escaped)
        content = f"BT /F1 {size} Tf 54 {media[1] - 72:g} Td {body} ET".encode()
        pdf.pages.append(
            pikepdf.Page(
                pikepdf.Dictionary(
                    Type=pikepdf.Name.Page,
                    MediaBox=[0, 0, *media],
                    Resources=pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font)),
                    Contents=pdf.make_stream(content),
                )
            )
        )
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def scanned_pdf(pages: list[list[str]], dpi: int = 300, size: int = 12) -> bytes:
    """Like :func:`text_pdf`, but each page is only an image of its text at ``dpi``."""
    source = pdfium.PdfDocument(text_pdf(pages, size))
    images = []
    for index in range(len(source)):
        bitmap = source[index].render(scale=dpi / 72, grayscale=True)
        images.append(bitmap.to_pil().convert("L").copy())
    source.close()
    out = io.BytesIO()
    images[0].save(out, "PDF", resolution=dpi, save_all=True, append_images=images[1:])
    return out.getvalue()


def mixed_pdf(text_lines: list[str], scanned_lines: list[str], dpi: int = 150) -> bytes:
    """Page 1 with a text layer, page 2 scanned."""
    pdf = pikepdf.open(io.BytesIO(text_pdf([text_lines])))
    scan = pikepdf.open(io.BytesIO(scanned_pdf([scanned_lines], dpi=dpi)))
    pdf.pages.extend(scan.pages)
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def huge_page_pdf(inches: float, pixels: int | None = None) -> bytes:
    """One scanned-looking page of ``inches`` square. Its image is a small scan stretched
    over it, or, with ``pixels``, a blank 1-bit image of that many pixels a side (tiny
    compressed, ``pixels``² bytes once rendered in gray)."""
    image = scanned_pdf([["A page far too large to render whole."]], dpi=72)
    pdf = pikepdf.open(io.BytesIO(image))
    page = pdf.pages[0]
    side = inches * 72
    page.obj.MediaBox = [0, 0, side, side]
    name = next(iter(page.obj.Resources.XObject.keys()))
    if pixels is not None:
        blank = zlib.compress(b"\xff" * (pixels * ((pixels + 7) // 8)), 9)
        page.obj.Resources.XObject[name] = pdf.make_stream(
            blank,
            Type=pikepdf.Name.XObject,
            Subtype=pikepdf.Name.Image,
            Width=pixels,
            Height=pixels,
            BitsPerComponent=1,
            ColorSpace=pikepdf.Name.DeviceGray,
            Filter=pikepdf.Name.FlateDecode,
        )
    page.obj.Contents = pdf.make_stream(f"q {side:g} 0 0 {side:g} 0 0 cm {name} Do Q".encode())
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def char_error_rate(expected: str, actual: str) -> float:
    """Levenshtein distance over the expected length, whitespace collapsed on both sides."""
    a, b = " ".join(expected.split()), " ".join(actual.split())
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1] / max(1, len(a))
