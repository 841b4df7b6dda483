"""A job's path through the worker: claim, inspect, split, extract, record, finish.

The actors (:mod:`.actors`) are thin wrappers around these functions, which move the job
only through the lifecycle's transitions (:mod:`folio_common.lifecycle`). Every write is
idempotent — the claim is conditional, pages are upserts, a part counts once — so a
message delivered twice, or re-sent by the sweeper, changes nothing the first did not.
A :class:`JobError` fails the job at once with its code; any other exception is
transient and propagates, so Dramatiq retries the message with backoff.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path

import sqlalchemy.exc
from folio_common import blobs, jobs
from folio_common.errors import JobError
from folio_common.lifecycle import JobStatus, transitions
from folio_common.lifecycle.effects import Step
from folio_common.logs import get_logger
from folio_common.page_reads import PageRead
from folio_common.uow import RetryPolicy
from sqlalchemy import Connection

from .extraction import PageText, Plan
from .ocr_pages import read_by_ocr
from .runtime import Runtime
from .sandbox import Cancelled
from .tasks import ExtractTask, FindOcrPagesTask, InspectTask

log = get_logger("folio.worker")

#: Heartbeats try once: a database blip must not stall the extraction they watch.
HEARTBEAT_POLICY = RetryPolicy(max_tries=1)


def process_job(rt: Runtime, job_id: str) -> None:
    """A job's first message: claim it, plan it, run a small one, fan out a large one."""
    with tempfile.TemporaryDirectory(prefix="folio-") as tmp:
        source = Path(tmp) / "source.pdf"
        job = claim(rt, job_id, source)
        if job is None:
            log.info("job finished, running elsewhere or out of attempts; message ignored")
            return
        log.info("job claimed", attempt=job.attempts, engine=job.engine)
        try:
            _run_claimed(rt, job, source)
        except JobError as exc:
            fail(rt, job_id, exc)
        except Cancelled:
            log.info("job cancelled while running")


def claim(rt: Runtime, job_id: str, source: Path) -> jobs.Job | None:
    """The job claimed, or None when there is nothing to run. The common case is one
    statement that also brings the source, written to ``source``
    (:func:`~folio_common.lifecycle.transitions.claim_small`); any other job — planned,
    large, claimed again, out of attempts — takes the claim's transaction, and its source
    is downloaded when it is needed (:func:`_run_claimed`), not while the row is locked."""
    small = rt.lifecycle.run_statement(transitions.claim_small, rt.settings, job_id)
    if small is None:
        claimed: jobs.Job | None = rt.lifecycle.run(
            transitions.claim, rt.blobs, rt.settings, job_id
        )
        return claimed
    job, data = small
    source.write_bytes(data)
    return job


def _run_claimed(rt: Runtime, job: jobs.Job, source: Path) -> None:
    """Plan and run a claimed job: a small one here, a large one fanned out as parts."""
    job_id = job.id
    if job.parts_total is None:
        if not source.exists():
            download(rt, blobs.source_key(job_id), source)
        plan = rt.sandboxes.get().run(
            InspectTask(
                path=str(source),
                password=job.options.password,
                pages=job.options.pages,
                max_pages=rt.settings.max_pages,
                part_pages=rt.settings.part_pages,
                engine=job.engine,
                ocr=job.options.ocr_mode,
            ),
            on_tick=lambda: still_running(rt, job_id, None),
            tick_s=rt.settings.heartbeat_interval_s,
        )
        if plan.texts is not None and not plan.ocr_pages:  # small, extracted already
            complete_part(rt, job, 0, plan.texts, plan)
            return
        if plan.texts is not None:  # small, its scanned pages still to read
            if rt.lifecycle.run(store_plan, job, plan):
                targets = [(n, n - 1) for n in sorted(plan.ocr_pages)]
                read = read_by_ocr(
                    rt,
                    job,
                    lambda: still_running(rt, job_id, None),
                    source,
                    job.options.password,
                    targets,
                )
                if read is not None:
                    complete_part(rt, job, 0, plan.texts + read.pages, reads=read.reads)
            return
        if rt.lifecycle.run(store_plan, job, plan):  # its parts are sent now
            log.info("job planned", page_count=plan.page_count, parts=len(plan.parts))
        else:
            log.info("job no longer processing; plan dropped")
        return
    # Claimed again after its worker died between planning and sending the parts.
    pending = rt.db.transaction(jobs.get_parts, job_id, pending_only=True)
    rt.lifecycle.run(transitions.resend_parts, job, [p for p in pending if p.blob_key])
    for part in pending:
        if part.blob_key is None:
            if not source.exists():
                download(rt, blobs.source_key(job_id), source)
            run_part(rt, job, part, source)


def process_part(rt: Runtime, job_id: str, part_no: int) -> None:
    """One page range of a large document, claimed so that duplicates skip it."""
    part = rt.lifecycle.run(transitions.claim_part, rt.blobs, rt.settings, job_id, part_no)
    if part is None:
        log.info("part done, running elsewhere, or job not processing; ignored", part_no=part_no)
        return
    job = rt.db.statement(jobs.get_job, job_id)  # one SELECT: one round trip
    if job is None or part.blob_key is None:
        return
    key = part.blob_key
    try:
        if key == blobs.source_key(job_id):  # read from the source, downloaded once here
            with rt.sources.lease(job_id, lambda path: download_source(rt, key, path)) as path:
                run_part(rt, job, part, path)
        else:  # split off into a blob of its own (planned before parts read the source)
            with tempfile.TemporaryDirectory(prefix="folio-") as tmp:
                path = Path(tmp) / "part.pdf"
                download(rt, key, path)
                run_part(rt, job, part, path)
    except JobError as exc:
        fail(rt, job_id, exc)
    except Cancelled:
        log.info("job cancelled while running", part_no=part_no)


def run_part(rt: Runtime, job: jobs.Job, part: jobs.Part, path: Path) -> None:
    """Extract one part in the sandbox, record its pages, finish the job if it was the last.

    Its scanned pages (the job's OCR mode decides) are read one sandbox call each,
    recorded as they come."""
    # Parts read the source; a part split off by an older release is its own (unencrypted) PDF.
    split_off = part.blob_key not in (None, blobs.source_key(job.id))
    password = None if split_off else job.options.password
    indexes = range(len(part.pages)) if split_off else [n - 1 for n in part.pages]
    index = dict(zip(part.pages, indexes, strict=True))
    sandbox = rt.sandboxes.get()

    def beat() -> bool:
        return still_running(rt, job.id, part.part_no)

    tick_s = rt.settings.heartbeat_interval_s
    scanned: set[int] = set()
    if part.ocr_pages is not None:  # as its plan found them
        scanned = set(part.ocr_pages)
    elif job.options.ocr_mode != "off":  # planned before plans kept them: look now
        scanned = sandbox.run(
            FindOcrPagesTask(
                str(path),
                password,
                job.options.ocr_mode,
                tuple(part.pages),
                tuple(index[n] for n in part.pages),
            ),
            on_tick=beat,
            tick_s=tick_s,
        )
    text_pages = [n for n in part.pages if n not in scanned]
    pages: list[PageText] = []
    if text_pages:
        pages = sandbox.run(
            ExtractTask(
                path=str(path),
                engine=job.engine,
                password=password,
                pages=tuple(text_pages),
                indexes=tuple(index[n] for n in text_pages),
            ),
            on_tick=beat,
            tick_s=tick_s,
        )
    if not scanned:
        complete_part(rt, job, part.part_no, pages)
        return
    targets = [(n, index[n]) for n in sorted(scanned)]
    read = read_by_ocr(rt, job, beat, path, password, targets)
    if read is not None:
        complete_part(rt, job, part.part_no, sorted(pages + read.pages), reads=read.reads)


def complete_part(
    rt: Runtime,
    job: jobs.Job,
    part_no: int,
    pages: list[tuple[int, str]],
    plan: Plan | None = None,
    reads: Mapping[int, PageRead] | None = None,
) -> None:
    """Record a part's pages (``reads``: how pages not from the text layer were read);
    when it completes the set, the job has succeeded: announce it. With ``plan``, a
    one-part document read whole at inspection: planned and finished in one statement."""
    if plan is not None:
        finished = rt.lifecycle.run_statement(
            transitions.finish_small,
            rt.settings,
            job.id,
            page_count=plan.page_count,
            metadata=plan.metadata,
            pages=pages,
        )
    else:
        finished = rt.lifecycle.run(
            transitions.record_part, rt.blobs, rt.settings, job.id, part_no, pages, reads
        )
        # A one-part job's pages are on its "job finished" line: one line fewer per job.
        log.info("part done", part_no=part_no, pages=len(pages))
    rt.stats.part_done(job.engine, len(pages))
    if finished is not None:
        rt.stats.job_done(finished)


def store_plan(conn: Connection, job: jobs.Job, plan: Plan) -> Step[bool]:
    """The plan, in one transaction; after commit a split document's parts are sent, each
    to read its pages from the job's source (their ``blob_key``), so nothing is copied.
    False (nothing stored) when the job is no longer processing."""
    key = blobs.source_key(job.id) if len(plan.parts) > 1 else None
    return transitions.plan(
        conn,
        job,
        page_count=plan.page_count,
        metadata=plan.metadata,
        parts=[(part.pages, key) for part in plan.parts],
        ocr_pages=plan.ocr_pages,
    )


def download(rt: Runtime, key: str, path: Path) -> None:
    """Stream a blob to a file; retried whole (the file is rewritten) on a dropped connection."""

    def write(conn: Connection) -> None:
        with open(path, "wb") as fh:
            for chunk in rt.blobs.read(conn, key):
                fh.write(chunk)

    rt.db.transaction(write)


def download_source(rt: Runtime, key: str, path: Path) -> None:
    """A split job's source, for this process's parts of it (see :mod:`.sources`)."""
    download(rt, key, path)
    log.info("source downloaded", size_bytes=path.stat().st_size)


def still_running(rt: Runtime, job_id: str, part_no: int | None) -> bool:
    """Heartbeat of the job (and the running part); False when the job was cancelled."""

    def beat(conn: Connection) -> dict[str, JobStatus]:
        if part_no is not None:
            transitions.touch_part(conn, job_id, part_no)
        return jobs.heartbeat(conn, [job_id])

    try:
        statuses = rt.db.transaction(beat, policy=HEARTBEAT_POLICY)
    except (sqlalchemy.exc.DBAPIError, sqlalchemy.exc.TimeoutError) as exc:
        log.warning("heartbeat failed; extraction goes on", error=type(exc).__name__)
        return True
    return statuses.get(job_id) == JobStatus.PROCESSING


def fail(rt: Runtime, job_id: str, error: JobError) -> None:
    job = rt.lifecycle.run(transitions.fail, rt.blobs, rt.settings, job_id, error)
    if job is not None:
        rt.stats.job_done(job)
