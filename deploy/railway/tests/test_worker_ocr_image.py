"""The worker image carries Tesseract's language data (from the OCR_LANGUAGES build arg)
and tells both tesserocr and Folio where it is (docs/ocr.md)."""

from __future__ import annotations

from pathlib import Path

DOCKERFILE = Path(__file__).resolve().parents[1] / "Dockerfile.worker"


def test_the_worker_image_gets_the_languages_of_its_build_arg() -> None:
    builder, final = DOCKERFILE.read_text().split("\nFROM ${PYTHON_IMAGE}\n")
    assert "ARG OCR_LANGUAGES=eng" in builder and "tesseract-ocr-osd" in builder
    assert "sed 's/^/tesseract-ocr-/'" in builder  # one package per +-joined language
    assert "COPY --from=builder /usr/share/tesseract-ocr /usr/share/tesseract-ocr" in final
    assert "OCR_LANGUAGES=${OCR_LANGUAGES}" in final  # the API's 422 list matches the image
    assert "TESSDATA_PREFIX=/usr/share/tesseract-ocr/5/tessdata" in final
