"""The README's configuration table documents every variable the settings read."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from folio_common.settings import describe

README = Path(__file__).resolve().parents[3] / "README.md"


def test_readme_documents_every_setting() -> None:
    if not README.exists():
        pytest.skip(f"{README} does not exist yet (the lead writes it)")
    documented = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", README.read_text()))
    missing = [name for name, _, _ in describe() if name not in documented]
    assert not missing, f"README.md does not document: {', '.join(missing)}"
