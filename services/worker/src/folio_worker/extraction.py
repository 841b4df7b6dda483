"""What runs inside the sandbox: open a PDF, describe it, split it, extract its text.

Everything here may meet hostile input, so it only ever runs in a sandbox process
(:mod:`.sandbox`) under wall-time and address-space limits. Errors leave as
:class:`~folio_common.errors.JobError` with a public code; anything else is a bug or a
resource failure that the sandbox reports.
"""

from __future__ import annotations

import io
import itertools
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pikepdf
from folio_common.errors import ErrorCode, JobError
from folio_common.options import select_pages

from . import planning

log = logging.getLogger("folio.extraction")

#: pdfminer's layout analysis with ``boxes_flow=None``: words grouped into lines and
#: boxes, without the "advanced" box ordering that is quadratic on table-heavy pages
#: (50 s vs 0.8 s on 3 table pages; research/libs.md).
LAYOUT: dict[str, Any] = {
    "line_overlap": 0.5,
    "char_margin": 2.0,
    "line_margin": 0.5,
    "word_margin": 0.1,
}


#: One page's text, labelled with its 1-based number in the original document.
PageText = tuple[int, str]


@dataclass
class PartPlan:
    pages: list[int]  # 1-based page numbers in the original document, read from the source


@dataclass
class Plan:
    page_count: int
    metadata: dict[str, Any]
    parts: list[PartPlan] = field(default_factory=list)
    #: The text of a one-part document, extracted in the same sandbox call (its pages that
    #: need OCR are not in it: they are read one sandbox call each).
    texts: list[PageText] | None = None
    #: The selected pages to read by OCR (:func:`.ocr.needs_ocr`); the planner weighs them.
    ocr_pages: set[int] = field(default_factory=set)


class Refused(JobError):
    """pikepdf cannot read the file (``invalid_pdf``): the engines may still (:mod:`.recovery`)."""


def open_pdf(path: str, password: str | None) -> pikepdf.Pdf:
    """Open with the empty password first (owner-only encryption), then the one given."""
    try:
        return pikepdf.open(path)
    except pikepdf.PasswordError:
        if not password:
            raise JobError(ErrorCode.PASSWORD_REQUIRED, "the PDF needs a password") from None
    except pikepdf.PdfError as exc:
        raise JobError(ErrorCode.INVALID_PDF, _first_line(exc, path)) from None
    try:
        return pikepdf.open(path, password=password)
    except pikepdf.PasswordError:
        raise JobError(ErrorCode.WRONG_PASSWORD, "the password does not open the PDF") from None
    except pikepdf.PdfError as exc:
        raise JobError(ErrorCode.INVALID_PDF, _first_line(exc, path)) from None


def _first_line(exc: BaseException, path: str = "") -> str:
    """The first line of an error, without the sandbox's temporary file name."""
    text = str(exc).replace(f"{path}: ", "").replace(path, "the PDF") if path else str(exc)
    return (text.strip().splitlines() or [type(exc).__name__])[0][:300]


def _pdf_date(value: str) -> str:
    """``D:20240102030405+01'00'`` → ``2024-01-02T03:04:05+01:00`` (as given when unparsable)."""
    raw = value.removeprefix("D:")
    if len(raw) < 8 or not raw[:8].isdigit():
        return value
    digits = raw[:14].ljust(14, "0")
    iso = f"{digits[:4]}-{digits[4:6]}-{digits[6:8]}T{digits[8:10]}:{digits[10:12]}:{digits[12:14]}"
    tz = raw[14:].replace("'", "")
    if tz.startswith("Z"):
        return iso + "Z"
    if tz[:1] in "+-" and len(tz) >= 5:
        return f"{iso}{tz[:3]}:{tz[3:5]}"
    return iso


def describe(pdf: pikepdf.Pdf) -> dict[str, Any]:
    """Metadata a client can rely on: document info, version, encryption and permissions."""
    info: dict[str, Any] = {}
    fields = {"/Title": "title", "/Author": "author", "/Subject": "subject",
              "/Keywords": "keywords", "/Creator": "creator", "/Producer": "producer"}  # fmt: skip
    dates = {"/CreationDate": "created", "/ModDate": "modified"}
    try:
        docinfo = pdf.docinfo
        for name, key in {**fields, **dates}.items():
            if name in docinfo:
                text = str(docinfo[name]).strip()
                info[key] = _pdf_date(text) if name in dates else text
    except (pikepdf.PdfError, ValueError, TypeError):
        pass  # broken info dictionary: the text still matters more
    for key in (*fields.values(), *dates.values()):
        info.setdefault(key, None)
    allow = pdf.allow
    info.update(
        pdf_version=pdf.pdf_version,
        page_count=len(pdf.pages),
        encrypted=pdf.is_encrypted,
        text_extraction_allowed=bool(allow.extract),
        linearized=pdf.is_linearized,
    )
    return info


def inspect(
    path: str,
    *,
    password: str | None,
    pages: str | None,
    max_pages: int,
    part_pages: int,
    engine: str | None = None,
    ocr: str = "off",
) -> Plan:
    """Describe the document and cut the selected pages into parts.

    A document that fits in one part (``part_pages``, weighed by engine and OCR) is
    one part and, with ``engine``, the text of its text-layer pages is extracted right
    away: one sandbox call for a small job. A larger one is cut into parts of about equal
    estimated cost (:mod:`.planning`), each reading its pages from the source: nothing
    is written.
    ``ocr`` is the job's OCR mode: the pages it selects are noted in the plan.
    Raises :class:`Refused` when pikepdf cannot read the file (the engines may).
    """
    from . import ocr as ocr_pages

    try:
        pdf = open_pdf(path, password)
    except JobError as exc:
        if exc.code == ErrorCode.INVALID_PDF:
            raise Refused(exc.code, exc.message) from None
        raise
    with pdf:
        try:
            page_count = len(pdf.pages)
        except pikepdf.PdfError as exc:
            raise Refused(ErrorCode.INVALID_PDF, _first_line(exc, path)) from None
        if page_count == 0:
            raise JobError(ErrorCode.INVALID_PDF, "the PDF has no pages")
        if page_count > max_pages:
            raise JobError(
                ErrorCode.TOO_MANY_PAGES, f"{page_count} pages, more than the limit of {max_pages}"
            )
        selected = select_pages(pages, page_count)
        if not selected:
            raise JobError(
                ErrorCode.INVALID_PDF,
                f"the pages option {pages!r} selects none of the document's {page_count} pages",
            )
        plan = Plan(page_count=page_count, metadata=describe(pdf))
        if not plan.metadata["text_extraction_allowed"]:
            # Normal for many published PDFs, and the text is the user's: a fact, not a fault.
            log.info("the PDF's permissions forbid text extraction; extracting anyway")
        plan.ocr_pages = ocr_pages.needs_ocr(
            ocr, path, password, selected, [n - 1 for n in selected], pdf
        )
        count = planning.part_count(selected, part_pages, plan.ocr_pages, engine or "pdfminer")
        if count == 1:
            plan.parts.append(PartPlan(selected))
            if engine is not None:
                text_pages = [n for n in selected if n not in plan.ocr_pages]
                indexes = [n - 1 for n in text_pages]
                plan.texts = extract(
                    path, engine=engine, password=password, pages=text_pages, indexes=indexes
                )
            return plan
        # Larger documents: parts of about equal estimated cost, each read from the
        # source by its own message (no split-off copies).
        costs = planning.page_costs(pdf, selected, plan.ocr_pages)
        plan.parts += [PartPlan(run) for run in planning.plan_parts(selected, costs, count)]
        return plan


def extract(
    path: str, *, engine: str, password: str | None, pages: Sequence[int], indexes: Sequence[int]
) -> list[PageText]:
    """Text of the pages at 0-based ``indexes`` of ``path``, labelled with ``pages``.

    When ``engine`` finds the file unreadable, the other engines try before it fails:
    each repairs damaged files its own way (issue-202.pdf: pdfminer gives up on a nested
    dictionary, PDFium reads its 10 pages).
    """
    if not indexes:
        return []
    failure: JobError | None = None
    for name in [engine, *(n for n in _ENGINES if n != engine)]:
        try:
            texts = _ENGINES[name](path, password, list(indexes))
        except JobError as exc:
            if exc.code != ErrorCode.INVALID_PDF:
                raise
            failure = failure or exc
            continue
        if name != engine:
            log.info("%s could not read the PDF; %s did", engine, name)
        break
    else:
        assert failure is not None
        raise failure
    return [(page_no, texts.get(index, "")) for page_no, index in zip(pages, indexes, strict=True)]


def _pdfminer(path: str, password: str | None, indexes: list[int]) -> dict[int, str]:
    """pdfminer.six, the document opened once per part, one page at a time."""
    from pdfminer.converter import TextConverter
    from pdfminer.layout import LAParams
    from pdfminer.pdfdocument import PDFDocument, PDFPasswordIncorrect
    from pdfminer.pdfinterp import PDFPageInterpreter, PDFResourceManager
    from pdfminer.pdfparser import PDFParser
    from pdfminer.psexceptions import PSException

    wanted = set(indexes)
    texts: dict[int, str] = {}
    failures = 0
    with open(path, "rb") as fh:
        try:
            document = PDFDocument(PDFParser(fh), password=password or "")
        except PDFPasswordIncorrect:
            raise JobError(ErrorCode.WRONG_PASSWORD, "the password does not open the PDF") from None
        except (PSException, ValueError, KeyError, TypeError) as exc:
            raise JobError(ErrorCode.INVALID_PDF, f"unreadable PDF: {_first_line(exc)}") from None
        resources = PDFResourceManager(caching=True)
        out = io.StringIO()
        device = TextConverter(resources, out, laparams=LAParams(boxes_flow=None, **LAYOUT))
        interpreter = PDFPageInterpreter(resources, device)
        try:
            for index, page in _part_pages(path, password, document, wanted):
                if index in wanted:
                    out.seek(0)
                    out.truncate()
                    try:
                        interpreter.process_page(page)
                    except MemoryError:
                        raise
                    except Exception as exc:  # one broken page must not lose the others
                        failures += 1
                        log.warning("page %d unreadable: %s", index + 1, _first_line(exc))
                    texts[index] = out.getvalue().rstrip("\x0c")
                if len(texts) == len(wanted):
                    break
        except (PSException, RecursionError) as exc:
            if not texts:
                raise JobError(
                    ErrorCode.INVALID_PDF, f"unreadable PDF: {_first_line(exc)}"
                ) from None
        finally:
            device.close()
    if failures and failures == len(wanted):
        raise JobError(ErrorCode.INVALID_PDF, "no page of the PDF could be read")
    return texts


def _part_pages(
    path: str, password: str | None, document: Any, wanted: set[int]
) -> Iterable[tuple[int, Any]]:
    """(0-based index, pdfminer page) of the wanted pages, in document order.

    A part's pages are found by number: qpdf (C++) reads the page tree, and pdfminer
    parses only the wanted pages and their ``/Parent`` chains. Walking the tree in
    pdfminer parsed every page before the part, so the parts of a long document paid
    for a quadratic walk (4-7 % of their extraction CPU on a 306-page document). A
    document qpdf reads differently — it cannot open it, or a page it names is not in
    the file as such — is walked as before (:func:`_pages_at`), and so are pages from the
    first on, where the walk parses no page it does not build (a small document whole).
    """
    if min(wanted, default=0) == 0:
        return _pages_at(document, wanted)
    objids = _page_objids(path, password, wanted)
    pages = _pages_by_objid(document, objids) if objids is not None else None
    return pages if pages is not None else _pages_at(document, wanted)


def _page_objids(path: str, password: str | None, wanted: set[int]) -> dict[int, int] | None:
    """index → object number of each wanted page as qpdf reads the page tree; None when
    pikepdf cannot open the file or names a page by no object of the file."""
    try:
        with pikepdf.open(path, password=password or "") as pdf:
            pages = pdf.pages
            objids = {index: pages[index].obj.objgen[0] for index in wanted}
    except (pikepdf.PdfError, IndexError, ValueError):
        return None
    return objids if all(objids.values()) else None


#: Deepest page tree followed up from a page (a /Parent cycle ends there).
MAX_TREE_DEPTH = 64


def _pages_by_objid(document: Any, objids: dict[int, int]) -> list[tuple[int, Any]] | None:
    """The pages named by ``objids``, each with the attributes it inherits (as pdfminer's
    walk gives them: nearest ancestor first, up to the catalog), or None when one is not
    a page that its ``/Parent`` chain hangs from the catalog's page tree."""
    from pdfminer.pdfpage import PDFPage
    from pdfminer.pdftypes import PDFObjRef, dict_value
    from pdfminer.psparser import LIT

    catalog = document.catalog
    root = catalog.get("Pages")
    if not isinstance(root, PDFObjRef):
        return None
    merged: dict[int, dict[Any, Any]] = {}  # a node's attributes, inherited ones merged

    def inherit(props: dict[Any, Any], parent: dict[Any, Any]) -> dict[Any, Any]:
        for key, value in parent.items():
            if key in PDFPage.INHERITABLE_ATTRS and key not in props:
                props[key] = value
        return props

    def node(ref: Any, depth: int) -> dict[Any, Any] | None:
        if not isinstance(ref, PDFObjRef) or depth > MAX_TREE_DEPTH:
            return None
        if ref.objid not in merged:
            props = dict_value(document.getobj(ref.objid)).copy()
            if ref.objid == root.objid:
                merged[ref.objid] = inherit(props, catalog)
            elif (parent := node(props.get("Parent"), depth + 1)) is not None:
                merged[ref.objid] = inherit(props, parent)
            else:
                return None
        return merged[ref.objid]

    page_type = LIT("Page")
    found = []
    try:
        for index in sorted(objids):
            props = dict_value(document.getobj(objids[index])).copy()
            parent = node(props.get("Parent"), 0)
            if props.get("Type", props.get("type")) is not page_type or parent is None:
                return None
            found.append((index, PDFPage(document, objids[index], inherit(props, parent), None)))
    except MemoryError:
        raise
    except Exception:  # not in the file as qpdf read it: walk the tree instead
        return None
    return found


def _pages_at(document: Any, wanted: set[int]) -> Iterator[tuple[int, Any]]:
    """(0-based index, page) in document order, ending after the last wanted index.

    pdfminer's ``PDFPage.create_pages`` builds every page it passes, reading each one's
    resources and content streams; a part near the end of a long document paid for all
    the pages before it (about 5 % of a 300-page document's extraction CPU, split in 20-page
    parts). This walks the same page tree the same way (depth first, inherited attributes,
    each node once) and builds only the wanted pages. A document without a page tree falls
    back to pdfminer's own walk, as does one whose tree holds no page.
    """
    from pdfminer.pdfpage import PDFPage
    from pdfminer.pdftypes import dict_value, list_value
    from pdfminer.psparser import LIT

    pages_type, page_type = LIT("Pages"), LIT("Page")
    last = max(wanted, default=-1)
    catalog = document.catalog
    if "Pages" not in catalog:
        yield from itertools.islice(enumerate(PDFPage.create_pages(document)), last + 1)
        return
    visited: set[Any] = set()
    index = 0
    stack: list[tuple[Any, dict[Any, Any]]] = [(catalog["Pages"], catalog)]
    while stack and index <= last:
        node, parent = stack.pop()
        objid = node if isinstance(node, int) else getattr(node, "objid", None)
        if objid in visited:
            continue
        visited.add(objid)
        props = dict_value(document.getobj(node) if isinstance(node, int) else node).copy()
        for key, value in parent.items():
            if key in PDFPage.INHERITABLE_ATTRS and key not in props:
                props[key] = value
        kind = props.get("Type", props.get("type"))
        if kind is pages_type and "Kids" in props:
            stack.extend((kid, props) for kid in reversed(list_value(props["Kids"])))
        elif kind is page_type:
            if index in wanted:
                yield index, PDFPage(document, objid, props, None)
            index += 1
    if index == 0:  # a page tree without pages: pdfminer scans the objects instead
        yield from itertools.islice(enumerate(PDFPage.create_pages(document)), last + 1)


def _pdfium(path: str, password: str | None, indexes: list[int]) -> dict[int, str]:
    """PDFium through pypdfium2: fast, good with CJK; no layout analysis."""
    import pypdfium2 as pdfium

    try:
        document = pdfium.PdfDocument(path, password=password or None)
    except pdfium.PdfiumError as exc:
        # One exception class for everything: its message says which failure it was.
        if "password" in str(exc).lower():
            code = ErrorCode.WRONG_PASSWORD if password else ErrorCode.PASSWORD_REQUIRED
            raise JobError(code, "the password does not open the PDF") from None
        raise JobError(ErrorCode.INVALID_PDF, _first_line(exc)) from None
    texts: dict[int, str] = {}
    try:
        for index in indexes:
            page = document[index]
            textpage = page.get_textpage()
            texts[index] = textpage.get_text_bounded().replace("\r\n", "\n")
            textpage.close()
            page.close()
    finally:
        document.close()
    return texts


#: The engines, in the order they are tried after the job's own.
_ENGINES: dict[str, Callable[[str, str | None, list[int]], dict[int, str]]] = {
    "pdfminer": _pdfminer,
    "pdfium": _pdfium,
}
ENGINE_NAMES = tuple(_ENGINES)
