"""The ``pages`` syntax and callback URLs, as both services read them."""

from __future__ import annotations

import pytest
from folio_common.options import page_ranges, select_pages


def test_page_ranges_parse_single_pages_and_ranges() -> None:
    assert page_ranges("1-5,9") == [(1, 5), (9, 9)]


@pytest.mark.parametrize("spec", ["", "0", "5-3", "1, 2", "a", "1-", "-2", "1;2"])
def test_page_ranges_refuse_anything_else(spec: str) -> None:
    with pytest.raises(ValueError):
        page_ranges(spec)


def test_select_pages_clips_to_the_document() -> None:
    assert select_pages("2-3,25,99", 30) == [2, 3, 25]
    assert select_pages(None, 3) == [1, 2, 3]
    assert select_pages("40-50", 30) == []
