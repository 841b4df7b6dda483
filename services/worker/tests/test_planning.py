"""The part planner: pages cut into contiguous parts of about equal estimated cost, the
estimate read from the PDF's objects, OCR pages weighing far more."""

from __future__ import annotations

import io
from pathlib import Path

import pikepdf
import pytest
from testsupport.pdfs import make_pdf

from folio_worker import planning


def _pdf(data: bytes) -> pikepdf.Pdf:
    return pikepdf.open(io.BytesIO(data))


def test_equal_pages_make_parts_of_about_equal_length() -> None:
    pages = list(range(1, 101))
    parts = planning.plan_parts(pages, dict.fromkeys(pages, 1.0), 5)
    assert [len(p) for p in parts] == [20, 20, 20, 20, 20]
    assert [n for p in parts for n in p] == pages


def test_heavy_pages_are_spread_and_light_ones_gathered() -> None:
    pages = list(range(1, 41))
    costs = dict.fromkeys(pages, 1.0) | dict.fromkeys(range(1, 11), 10.0)  # 10 heavy first
    parts = planning.plan_parts(pages, costs, 4)
    assert len(parts) == 4 and [n for p in parts for n in p] == pages
    part_costs = [sum(costs[n] for n in p) for p in parts]
    # By page count (10 each) the first part would cost 100 of 130; here none exceeds
    # an equal share by more than its heaviest page.
    assert max(part_costs) <= sum(part_costs) / 4 + 10.0
    assert len(parts[0]) < len(parts[-1])


def test_no_part_is_empty_and_never_more_parts_than_pages() -> None:
    pages = [3, 7, 9]
    costs = {3: 1000.0, 7: 1.0, 9: 1.0}
    assert planning.plan_parts(pages, costs, 10) == [[3], [7], [9]]
    assert planning.plan_parts(pages, costs, 2) == [[3], [7, 9]]
    assert planning.plan_parts([5], {}, 3) == [[5]]


def test_part_count_follows_part_pages() -> None:
    assert planning.part_count(list(range(25)), 10) == 3
    assert planning.part_count(list(range(20)), 10) == 2
    assert planning.part_count([1], 10) == 1


def test_a_pdfium_text_page_weighs_a_tenth_and_an_ocr_page_the_same_for_both() -> None:
    assert planning.part_count(list(range(100)), 10, engine="pdfium") == 1
    assert planning.part_count(list(range(101)), 10, engine="pdfium") == 2
    # 99 text pages at a tenth, one OCR page at OCR_PAGE_WEIGHT: 19.9 pages, 2 parts of 10.
    assert planning.part_count(list(range(100)), 10, {5}, engine="pdfium") == 2


def test_denser_pages_cost_more() -> None:
    pdf = _pdf(make_pdf(1, lines=1))
    light = planning.page_costs(pdf, [1])[1]
    dense = planning.page_costs(_pdf(make_pdf(1, lines=60)), [1])[1]
    assert dense > light > 0


def test_ocr_pages_outweigh_any_text_page() -> None:
    pdf = _pdf(make_pdf(3, lines=60))
    plain = planning.page_costs(pdf, [1, 2, 3])
    costs = planning.page_costs(pdf, [1, 2, 3], ocr_pages={2})
    assert costs[2] - plain[2] == planning.OCR_PAGE_COST and costs[1] == plain[1]
    parts = planning.plan_parts([1, 2, 3], costs, 2)
    assert [2] in parts or parts[0] == [1, 2]  # the OCR page is not piled onto the others


@pytest.mark.corpus
def test_a_figure_drawn_as_a_form_counts_as_content(corpus: Path) -> None:
    with pikepdf.open(corpus / "tracemonkey.pdf") as pdf:
        costs = planning.page_costs(pdf, range(1, len(pdf.pages) + 1))
    # Page 11 draws a 387 KB figure (a form XObject): by far its slowest page to extract.
    assert max(costs, key=lambda n: costs[n]) == 11
