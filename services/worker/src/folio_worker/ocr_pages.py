"""Reading a part's scanned pages: one sandbox call per page, each recorded as it is read.

A page is its own task so that a page over the time or memory limit (a rendering bomb)
costs that page alone, recorded as not read with its reason while the others succeed,
and so that a long scan's progress moves page by page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from folio_common.errors import ErrorCode, JobError
from folio_common.jobs import Job
from folio_common.lifecycle import transitions
from folio_common.logs import get_logger
from folio_common.page_reads import PageRead, ReadMethod

from .extraction import PageText
from .runtime import Runtime
from .tasks import OcrPageTask

log = get_logger("folio.worker")

#: A page's own failures: the page is recorded unread and the job goes on. Others (a
#: wrong password, a cancel, a stopping worker) are the job's and propagate.
PAGE_FAILURES = (ErrorCode.TIMEOUT, ErrorCode.MEMORY_LIMIT, ErrorCode.INVALID_PDF)


@dataclass
class OcrRead:
    """The pages read (or not) by OCR, and how."""

    pages: list[PageText] = field(default_factory=list)
    reads: dict[int, PageRead] = field(default_factory=dict)


def read_by_ocr(
    rt: Runtime,
    job: Job,
    beat: Callable[[], bool],
    path: Path,
    password: str | None,
    targets: list[tuple[int, int]],
) -> OcrRead | None:
    """Read ``targets`` (page number, 0-based index in ``path``) one by one, recording
    each; ``beat`` is the running job's heartbeat. None when the job stopped processing
    (cancelled) meanwhile."""
    languages = job.options.languages or rt.settings.ocr_default_languages
    result = OcrRead()
    for page, index in targets:
        task = OcrPageTask(
            path=str(path),
            password=password,
            page=page,
            index=index,
            languages=languages,
            dpi=rt.settings.ocr_dpi,
            max_pixels=int(rt.settings.ocr_max_megapixels * 1_000_000),
        )
        try:
            done = rt.sandboxes.get().run(
                task,
                on_tick=beat,
                tick_s=rt.settings.heartbeat_interval_s,
            )
        except JobError as exc:
            if exc.code not in PAGE_FAILURES:
                raise
            reason: str | None = exc.code.value
            text, read = "", None
        else:
            reason, text = done.failure, done.text
            read = done
        if reason is not None:
            log.warning("page not read", page=page, reason=reason)
            rt.stats.page_unread(reason)
            how = PageRead(ReadMethod.NONE, reason=reason)
        else:
            assert read is not None
            rt.stats.page_ocr(read.seconds)
            how = PageRead(ReadMethod.OCR, read.confidence)
        result.pages.append((page, text))
        result.reads[page] = how
        if not rt.lifecycle.run(transitions.record_pages, job.id, [(page, text)], {page: how}):
            log.info("job no longer processing; OCR stopped", page=page)
            return None
    return result
