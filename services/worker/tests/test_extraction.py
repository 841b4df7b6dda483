"""The extraction functions called directly on generated PDFs: no sandbox, no process.

They are what the sandbox runs; here they run in the test process, so a failure points at
the document logic rather than at the process around it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from folio_common.errors import ErrorCode, JobError
from testsupport.pdfs import make_pdf, page_text

from folio_worker.extraction import Plan, extract, inspect

ENGINES = ["pdfminer", "pdfium"]


def write(tmp_path: Path, data: bytes, name: str = "source.pdf") -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def plan_of(tmp_path: Path, data: bytes, **options: object) -> Plan:
    kwargs: dict[str, object] = {
        "password": None,
        "pages": None,
        "max_pages": 100,
        "part_pages": 10,
        "engine": None,
    }
    kwargs.update(options)
    return inspect(write(tmp_path, data), **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("engine", ENGINES)
def test_a_small_document_is_planned_and_extracted_in_one_call(tmp_path: Path, engine: str) -> None:
    plan = plan_of(tmp_path, make_pdf(3, title="Three"), engine=engine)
    assert plan.page_count == 3 and plan.metadata["title"] == "Three"
    assert [p.pages for p in plan.parts] == [[1, 2, 3]]
    assert plan.texts is not None
    assert [(n, text.strip()) for n, text in plan.texts] == [(n, page_text(n)) for n in (1, 2, 3)]


def test_a_large_document_is_planned_into_parts_that_read_the_source(
    tmp_path: Path,
) -> None:
    source = write(tmp_path, make_pdf(25))
    plan = inspect(source, password=None, pages=None, max_pages=100, part_pages=10,
                   engine="pdfminer")  # fmt: skip
    assert plan.texts is None  # extracted part by part, not in the planning call
    assert len(plan.parts) == 3  # as many as PART_PAGES gives; equal pages, about equal cuts
    assert [n for p in plan.parts for n in p.pages] == list(range(1, 26))
    assert sorted(tmp_path.iterdir()) == [Path(source)]  # nothing split off, nothing copied
    last = plan.parts[2]
    indexes = [n - 1 for n in last.pages]
    texts = extract(source, engine="pdfium", password=None, pages=last.pages, indexes=indexes)
    assert [(n, text.strip()) for n, text in texts] == [(n, page_text(n)) for n in last.pages]


def test_a_pdfium_document_takes_ten_times_the_pages_per_part(tmp_path: Path) -> None:
    # 25 PDFium text pages weigh 2.5 pdfminer pages: one part, extracted in the planning call.
    plan = plan_of(tmp_path, make_pdf(25), engine="pdfium")
    assert [p.pages for p in plan.parts] == [list(range(1, 26))] and plan.texts is not None
    big = plan_of(tmp_path, make_pdf(101), engine="pdfium", max_pages=200)
    assert len(big.parts) == 2 and big.texts is None  # PART_PAGES=10


def test_the_pages_option_selects_pages_and_one_selecting_none_fails(tmp_path: Path) -> None:
    plan = plan_of(tmp_path, make_pdf(30), pages="2-3,25,99")
    assert [p.pages for p in plan.parts] == [[2, 3, 25]]
    with pytest.raises(JobError) as failure:
        plan_of(tmp_path, make_pdf(3), pages="7-9")
    assert failure.value.code == ErrorCode.INVALID_PDF


def test_too_many_pages_fails_before_any_extraction(tmp_path: Path) -> None:
    with pytest.raises(JobError) as failure:
        plan_of(tmp_path, make_pdf(6), max_pages=5, engine="pdfminer")
    assert failure.value.code == ErrorCode.TOO_MANY_PAGES


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"%PDF-1.7\nnot a PDF at all", ErrorCode.INVALID_PDF),
        (b"", ErrorCode.INVALID_PDF),
    ],
)
def test_a_broken_file_fails_invalid_pdf(tmp_path: Path, data: bytes, code: ErrorCode) -> None:
    with pytest.raises(JobError) as failure:
        plan_of(tmp_path, data)
    assert failure.value.code == code
    assert str(tmp_path) not in failure.value.message  # no sandbox paths in public errors


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(
    ("password", "code"),
    [(None, ErrorCode.PASSWORD_REQUIRED), ("wrong", ErrorCode.WRONG_PASSWORD), ("s3cret", None)],
)
def test_an_encrypted_document_needs_its_password(
    tmp_path: Path, engine: str, password: str | None, code: ErrorCode | None
) -> None:
    data = make_pdf(2, password="s3cret")
    if code is None:
        plan = plan_of(tmp_path, data, password=password, engine=engine)
        assert plan.texts is not None and plan.texts[1][1].strip() == page_text(2)
        return
    with pytest.raises(JobError) as failure:
        plan_of(tmp_path, data, password=password, engine=engine)
    assert failure.value.code == code


@pytest.mark.parametrize("engine", ENGINES)
def test_each_engine_refuses_a_wrong_password_itself(tmp_path: Path, engine: str) -> None:
    """Parts of the source are extracted with the job's password by the engine alone."""
    path = write(tmp_path, make_pdf(2, password="s3cret"))
    with pytest.raises(JobError) as failure:
        extract(path, engine=engine, password="wrong", pages=[1], indexes=[0])
    assert failure.value.code == ErrorCode.WRONG_PASSWORD


def test_a_restricted_document_is_described_and_extracted_anyway(tmp_path: Path) -> None:
    plan = plan_of(tmp_path, make_pdf(2, restricted=True), engine="pdfminer")
    assert plan.metadata["encrypted"] is True
    assert plan.metadata["text_extraction_allowed"] is False
    assert plan.texts is not None and plan.texts[0][1].strip() == page_text(1)


def test_parts_of_a_form_document_read_their_text_from_the_source(tmp_path: Path) -> None:
    source = write(tmp_path, make_pdf(12, form=True))
    plan = plan_of(tmp_path, make_pdf(12, form=True))
    second = plan.parts[1]
    indexes = [n - 1 for n in second.pages]
    texts = extract(source, engine="pdfminer", password=None, pages=second.pages, indexes=indexes)
    assert [(n, t.strip()) for n, t in texts] == [(n, page_text(n)) for n in second.pages]


def _nested_page_tree(data: bytes) -> bytes:
    """``data`` with its pages under two intermediate /Pages nodes (each with an
    inheritable /MediaBox, and a /CropBox, which no page sets itself), as real files nest them."""
    import io

    import pikepdf

    with pikepdf.open(io.BytesIO(data)) as pdf:
        root = pdf.Root.Pages
        kids = list(root.Kids)
        nodes = []
        for half in (kids[: len(kids) // 2], kids[len(kids) // 2 :]):
            node = pdf.make_indirect(
                pikepdf.Dictionary(
                    Type=pikepdf.Name.Pages,
                    Kids=pikepdf.Array(half),
                    Count=len(half),
                    Parent=root,
                    MediaBox=half[0].MediaBox,
                    CropBox=[0, 0, 300, 300 + len(nodes)],
                )
            )
            for page in half:
                page.Parent = node
            nodes.append(node)
        root.Kids = pikepdf.Array(nodes)
        out = io.BytesIO()
        pdf.save(out)
        return out.getvalue()


@pytest.mark.parametrize("nested", [False, True])
def test_a_part_builds_only_its_own_pages_in_pdfminers_order(tmp_path: Path, nested: bool) -> None:
    from pdfminer.pdfdocument import PDFDocument
    from pdfminer.pdfpage import PDFPage
    from pdfminer.pdfparser import PDFParser

    from folio_worker.extraction import _page_objids, _pages_at, _pages_by_objid

    data = make_pdf(9)
    path = tmp_path / "doc.pdf"
    path.write_bytes(_nested_page_tree(data) if nested else data)
    wanted = {2, 3, 7}

    def seen(pages: Any) -> list[tuple[int, int, Any, Any]]:
        return [(i, p.pageid, p.mediabox, p.cropbox) for i, p in pages]

    with open(path, "rb") as fh:
        document = PDFDocument(PDFParser(fh))
        every = [(p.pageid, p.mediabox, p.cropbox) for p in PDFPage.create_pages(document)]
        assert len(every) == 9
        expected = [(i, *every[i]) for i in sorted(wanted)]
        # By object number (qpdf's reading of the tree), inherited attributes included,
        assert seen(_pages_by_objid(document, _page_objids(str(path), None, wanted))) == expected
        # and by pdfminer's own walk, which a file qpdf reads differently falls back to.
        assert seen(_pages_at(document, wanted)) == expected
    if nested:  # the inherited crop boxes tell the two halves apart
        assert {crop[3] for _, _, crop in every} == {300, 301}
    texts = extract(str(path), engine="pdfminer", password=None, pages=[8], indexes=[7])
    assert [(n, text.strip()) for n, text in texts] == [(8, page_text(8))]


def test_a_page_tree_that_qpdf_repairs_is_walked_by_pdfminer(tmp_path: Path) -> None:
    """A page listed twice: qpdf makes the second a copy (an object not in the file), so
    the part's pages are found by pdfminer's walk — which lists it once."""
    import io

    import pikepdf
    from pdfminer.pdfdocument import PDFDocument
    from pdfminer.pdfparser import PDFParser

    from folio_worker.extraction import _page_objids, _pages_by_objid

    with pikepdf.open(io.BytesIO(make_pdf(3))) as pdf:
        pdf.Root.Pages.Kids.append(pdf.Root.Pages.Kids[0])
        pdf.Root.Pages.Count = 4
        pdf.save(tmp_path / "twice.pdf", qdf=True)  # kept as written: no repair on save
    path = str(tmp_path / "twice.pdf")
    objids = _page_objids(path, None, {0, 1, 2, 3})
    with open(path, "rb") as fh:
        document = PDFDocument(PDFParser(fh))
        assert objids is None or _pages_by_objid(document, objids) is None
    texts = extract(path, engine="pdfminer", password=None, pages=[1, 2, 3], indexes=[0, 1, 2])
    assert [(n, text.strip()) for n, text in texts] == [(n, page_text(n)) for n in (1, 2, 3)]
