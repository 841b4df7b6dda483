"""Request ids, ``nosniff`` and the access log: one structured line per request.

The request id comes from ``X-Request-ID`` when it is safe to log and echo back
(≤ 128 characters of ``[A-Za-z0-9._-]``), else a fresh one. It is bound to the log
context for everything the request logs, returned in the response, stored on the job and
carried to the worker in the message, so one id follows an upload end to end.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import re
import socket
import threading
import time
import uuid
from typing import Any

import falcon
from folio_common.logs import bind_contextvars, clear_contextvars, get_logger

log = get_logger("folio.api.access")

REQUEST_ID_HEADER = "X-Request-ID"
#: Seconds one read from (or write to) the client's socket may block. gunicorn's gthread
#: workers read request bodies with no timeout at all, so without it a stalled body would
#: hold a request thread forever; the read then raises ``TimeoutError`` (answered 408).
SOCKET_TIMEOUT_S = 30.0
#: Slowest upload accepted, in bytes per second. A body trickling in a byte at a time never
#: trips the per-read timeout, so a body must also arrive whole within
#: ``SOCKET_TIMEOUT_S + Content-Length / MIN_UPLOAD_RATE`` of the request's first byte;
#: then the socket's read side is shut, the upload ends short, and it is refused with 400.
MIN_UPLOAD_RATE = 64 * 1024
#: WSGI environ key: ``time.monotonic()`` when the request's head began to arrive (set by
#: :class:`folio_api.head_worker.HeadFirstWorker`; absent elsewhere: counted from now).
HEAD_STARTED_ENV = "folio.head_started"


def _stop_reading(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RD)


def body_deadline_s(req: falcon.Request) -> float:
    """Seconds from now until the whole body must have arrived: its allowance, less the
    time the head already took (one deadline from the request's first byte)."""
    allowance = SOCKET_TIMEOUT_S + (req.content_length or 0) / MIN_UPLOAD_RATE
    started: float | None = req.env.get(HEAD_STARTED_ENV)
    spent = time.monotonic() - started if started is not None else 0.0
    return max(0.0, allowance - spent)


class BodyDeadlines:
    """One thread per process that shuts the read side of sockets whose body is late.

    A ``threading.Timer`` per request did the same at the cost of starting a thread for
    every upload (a measured share of an upload's CPU). Deadlines wait in a heap; a
    cancelled one stays there, marked, until it falls due.
    """

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, socket.socket]] = []
        self._cancelled: set[int] = set()
        self._wake = threading.Condition()
        self._ids = itertools.count()
        self._thread: threading.Thread | None = None

    def add(self, sock: socket.socket, seconds: float) -> int:
        """Stop reading ``sock`` in ``seconds`` unless :meth:`cancel` is called first."""
        due = time.monotonic() + seconds
        with self._wake:
            ident = next(self._ids)
            heapq.heappush(self._heap, (due, ident, sock))
            if self._thread is None:  # started lazily: after gunicorn's fork, not before
                self._thread = threading.Thread(
                    target=self._run, name="folio-body-deadlines", daemon=True
                )
                self._thread.start()
            elif self._heap[0][1] == ident:  # sooner than the one the thread waits for
                self._wake.notify()
        return ident

    def cancel(self, ident: int) -> None:
        with self._wake:
            self._cancelled.add(ident)

    def _run(self) -> None:
        with self._wake:
            while True:
                if not self._heap:
                    self._wake.wait()
                    continue
                due, ident, sock = self._heap[0]
                delay = due - time.monotonic()
                if delay > 0:
                    self._wake.wait(delay)
                    continue
                heapq.heappop(self._heap)
                if ident in self._cancelled:
                    self._cancelled.discard(ident)
                else:
                    _stop_reading(sock)


_DEADLINES = BodyDeadlines()


def bound_body(req: falcon.Request) -> int | None:
    """Bound every read (and the whole body) of a request served by gunicorn; the
    deadline's id, for :meth:`BodyDeadlines.cancel`, when there is a body."""
    sock = req.env.get("gunicorn.socket")
    if sock is None or not hasattr(sock, "settimeout"):
        return None
    # gthread resets the socket to blocking before each request: bound it again.
    sock.settimeout(SOCKET_TIMEOUT_S)
    if not req.content_length:
        return None
    return _DEADLINES.add(sock, body_deadline_s(req))


_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")


def request_id_from(header: str | None) -> str:
    """The client's id when it is safe to log and echo, else a new one."""
    if header and _VALID_REQUEST_ID.fullmatch(header):
        return header
    return uuid.uuid4().hex


class RequestContext:
    """Middleware: bind the request id, time the request, log the access line."""

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        req.context.started = time.perf_counter()
        req.context.body_deadline = bound_body(req)
        req.context.request_id = request_id_from(req.get_header(REQUEST_ID_HEADER))
        # Threads are reused: drop whatever the previous request on this thread bound.
        clear_contextvars()
        bind_contextvars(request_id=req.context.request_id)

    def process_response(
        self, req: falcon.Request, resp: falcon.Response, resource: Any, req_succeeded: bool
    ) -> None:
        deadline: int | None = req.context.get("body_deadline")
        if deadline is not None:
            _DEADLINES.cancel(deadline)
        request_id = req.context.get("request_id") or request_id_from(None)
        resp.set_header(REQUEST_ID_HEADER, request_id)
        # Every response, errors included: a browser must never sniff a JSON or text body
        # (an extracted page, a filename echoed back) into HTML.
        resp.set_header("X-Content-Type-Options", "nosniff")
        started: float = req.context.get("started") or time.perf_counter()
        status = resp.status_code
        log_method = log.warning if status >= 500 else log.info
        log_method(
            f"{req.method} {req.path} {status}",
            method=req.method,
            route=req.uri_template,
            path=req.path,
            status=status,
            duration_ms=round((time.perf_counter() - started) * 1000, 1),
            owner=req.context.get("owner"),
        )
