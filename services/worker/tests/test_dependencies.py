"""Dependency floors that are security fixes, checked where the worker runs."""

from __future__ import annotations

from importlib.metadata import version

#: pdfminer.six 20251230 stopped unpickling CMaps from paths a PDF can name
#: (CVE-2025-64512: arbitrary code execution through a crafted CMap pickle).
PDFMINER_FLOOR = 20251230


def test_pdfminer_has_the_cmap_pickle_fix() -> None:
    installed = version("pdfminer.six")
    assert int(installed.split(".")[0]) >= PDFMINER_FLOOR, installed
