"""Client commands: ``submit``, ``status``, ``result``, ``jobs`` — all over HTTP.

The URL and key come from ``--api-url``/``--api-key`` or ``FOLIO_API_URL``/
``FOLIO_API_KEY``. Output is text for people or, with ``--json``, one JSON document per
line for scripts; the progress bar goes to stderr, so stdout stays clean.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.parse
from pathlib import Path
from typing import Any, TextIO

from .api_client import ApiClient
from .exits import FAILED, OK, USAGE, CliError

TERMINAL = ("succeeded", "failed", "cancelled")
#: Seconds one long-poll may wait while ``--wait`` watches a single job.
POLL_WAIT_S = 2
#: Seconds between polls while several jobs are watched.
POLL_INTERVAL_S = 0.5
BAR_WIDTH = 30


class Progress:
    """A one-line progress bar on a terminal (nothing when ``enabled`` is false)."""

    def __init__(self, stream: TextIO, enabled: bool) -> None:
        self._stream = stream
        self._enabled = enabled
        self._drawn = False

    def show(self, jobs: list[dict[str, Any]]) -> None:
        if not self._enabled:
            return
        done = sum(j["progress"]["pages_done"] or 0 for j in jobs)
        total = sum(j["progress"]["pages_total"] or 0 for j in jobs)
        finished = sum(j["status"] in TERMINAL for j in jobs)
        filled = int(BAR_WIDTH * done / total) if total else 0
        bar = "#" * filled + "." * (BAR_WIDTH - filled)
        pages = f"{done}/{total} pages" if total else "waiting for a worker"
        self._stream.write(f"\r[{bar}] {pages}, {finished}/{len(jobs)} jobs done ")
        self._stream.flush()
        self._drawn = True

    def close(self) -> None:
        if self._drawn:
            self._stream.write("\n")
            self._stream.flush()


def warn(message: str) -> None:
    """A line on stderr, prefixed like ``main``'s errors (stdout is for results)."""
    print(f"folio submit: {message}", file=sys.stderr)


def pages_label(job: dict[str, Any]) -> str:
    """``12 pages``, or ``3 of 12 pages`` when ``pages`` selected fewer than the PDF has."""
    count = job.get("page_count")
    if count is None:
        return ""
    selected = (job.get("progress") or {}).get("pages_total")
    if selected is None or selected == count:
        return f"{count} pages"
    return f"{selected} of {count} pages"


def print_jobs(jobs: list[dict[str, Any]], as_json: bool) -> None:
    for job in jobs:
        if as_json:
            print(json.dumps(job))
            continue
        error = f"{job['error']['code']}: {job['error']['message']}" if job.get("error") else ""
        fields = [job["id"], job["status"], job.get("filename") or "", pages_label(job), error]
        print("  ".join(f for f in fields if f))


def exit_code(jobs: list[dict[str, Any]]) -> int:
    return FAILED if any(j["status"] in ("failed", "cancelled") for j in jobs) else OK


def wait_for(
    client: ApiClient, jobs: list[dict[str, Any]], progress: Progress, timeout_s: float
) -> list[dict[str, Any]]:
    """Poll until every job is terminal or ``timeout_s`` passes; the jobs as last seen."""
    deadline = time.monotonic() + timeout_s
    jobs = list(jobs)
    try:
        while True:
            progress.show(jobs)
            pending = [i for i, j in enumerate(jobs) if j["status"] not in TERMINAL]
            if not pending or time.monotonic() >= deadline:
                return jobs
            wait_s = POLL_WAIT_S if len(pending) == 1 else 0
            for i in pending:
                jobs[i] = client.job(jobs[i]["id"], wait_s=wait_s)
            if wait_s == 0:
                time.sleep(POLL_INTERVAL_S)
    finally:
        progress.close()


def submit(args: argparse.Namespace, client: ApiClient) -> int:
    paths = [Path(name) for name in args.files]
    for path in paths:
        if not path.is_file():
            raise CliError(f"no such file: {path}", USAGE)
    fields = {
        name: value
        for name, value in (
            ("engine", args.engine),
            ("pages", args.pages),
            ("password", args.password),
            ("ocr", args.ocr),
            ("languages", args.languages),
        )
        if value
    }
    jobs, refused = submit_each(client, paths, fields, args.json, print_at_once=not args.wait)
    code = FAILED if refused else OK
    if not args.wait:
        return code
    show = sys.stderr.isatty() if args.progress is None else args.progress
    try:
        jobs = wait_for(client, jobs, Progress(sys.stderr, show), args.timeout)
    except CliError:
        print_jobs(jobs, args.json)  # the API went away: the ids must not be lost
        raise
    print_jobs(jobs, args.json)
    unfinished = [j["id"] for j in jobs if j["status"] not in TERMINAL]
    if unfinished:
        warn(f"not finished after {args.timeout:g}s: {', '.join(unfinished)}")
        return FAILED
    return max(code, exit_code(jobs))


def submit_each(
    client: ApiClient,
    paths: list[Path],
    fields: dict[str, str],
    as_json: bool,
    *,
    print_at_once: bool,
) -> tuple[list[dict[str, Any]], int]:
    """Submit every file, going on past one the API refuses: (accepted jobs, refused count).

    A refusal of the whole request (no key, API unreachable) stops the batch, after the
    jobs already accepted are printed: their ids must not be lost.
    """
    jobs: list[dict[str, Any]] = []
    refused = 0
    for path in paths:
        try:
            job = client.submit(path, fields)
        except CliError as exc:
            if not exc.refused:
                if not print_at_once:
                    print_jobs(jobs, as_json)
                raise
            warn(f"{path}: {exc}")
            refused += 1
            continue
        jobs.append(job)
        if print_at_once:
            print_jobs([job], as_json)
            sys.stdout.flush()  # a script reading the ids sees each one as it is accepted
    return jobs, refused


def status(args: argparse.Namespace, client: ApiClient) -> int:
    job = client.job(args.id, wait_s=args.wait)
    print_jobs([job], args.json)
    return exit_code([job])


def result(args: argparse.Namespace, client: ApiClient) -> int:
    path = f"/api/v1/jobs/{urllib.parse.quote(args.id)}/result"
    accept = "text/plain" if args.text else "application/json"
    _, _, data = client.request("GET", path, headers={"Accept": accept})
    if args.text:
        sys.stdout.write(data.decode("utf-8"))
        if not data.endswith(b"\n"):
            sys.stdout.write("\n")
    else:
        print(json.dumps(json.loads(data), indent=2, ensure_ascii=False))
    return OK


def list_jobs(args: argparse.Namespace, client: ApiClient) -> int:
    query = {"limit": str(args.limit)}
    if args.status:
        query["status"] = args.status
    page = client.get_json(f"/api/v1/jobs?{urllib.parse.urlencode(query)}")
    print_jobs(page["jobs"], args.json)
    return OK
