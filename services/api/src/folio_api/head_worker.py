"""A gthread worker that reads request heads in its main poller, under a deadline.

Stock gthread hands an accepted connection to a pool thread, which (once the first byte
arrives) reads the head on a blocking socket with no deadline: 40 clients sending one
header line every few seconds hold every thread and the API stops answering. Here the
main loop reads the head itself, without blocking, from the moment the connection is
accepted (or a kept-alive connection becomes readable); only a *complete* head is handed
to a thread. A client that has not sent its whole head within ``HEADER_TIMEOUT_S`` is
answered 408 and closed, having cost one file descriptor, never a thread.

This leans on gthread internals (``TConn.init``, the parser's ``unreader``), checked
against gunicorn 27.0; TLS connections (not used: the edge proxy terminates TLS) take the
stock path. Bodies are bounded separately, per read and in total
(:func:`folio_api.middleware.bound_body`), the total counted from when the head began to
arrive (``environ["folio.head_started"]``), so head and body share one deadline.
"""

from __future__ import annotations

import contextlib
import json
import selectors
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import falcon
from folio_common.settings import load_settings
from gunicorn import util as gunicorn_util
from gunicorn.workers.gthread import TConn, ThreadWorker

from folio_api.errors import PROBLEM_JSON, problem_document
from folio_api.middleware import HEAD_STARTED_ENV

#: Bytes read from a socket per readable event.
RECV_SIZE = 8192
#: The end of an HTTP/1 head.
HEAD_END = b"\r\n\r\n"
#: Largest head accepted before the connection is refused (gunicorn's own limits are
#: 4094 bytes of request line and 100 fields of 8190 bytes; this bounds the buffer).
MAX_HEAD_BYTES = 64 * 1024


def _answer(code: int, detail: str) -> bytes:
    """A complete problem+json response (:mod:`folio_api.errors`'s document), sent by the
    worker itself before closing."""
    problem = falcon.HTTPError(code, description=detail)
    body = json.dumps(problem_document(problem)).encode()
    head = (
        f"HTTP/1.1 {falcon.code_to_http_status(code)}\r\nConnection: close\r\n"
        f"Content-Type: {PROBLEM_JSON}\r\nX-Content-Type-Options: nosniff\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def _write_problem(sock: Any, status_int: int, reason: str, mesg: str) -> None:
    """gunicorn's own refusals (a malformed request line, too many headers…), which it
    writes as an HTML page, as problem+json with ``nosniff`` like every other answer."""
    gunicorn_util.write_nonblock(sock, _answer(status_int, mesg))


#: What a client that ran out of time, or sent too large a head, is told before closing.
_TIMEOUT_RESPONSE = _answer(408, "the request head did not arrive in time")
_TOO_LARGE_RESPONSE = _answer(431, "the request head is too large")


@dataclass
class _Head:
    """A connection whose head is being read: when it began, its deadline, its bytes."""

    conn: TConn
    started: float
    deadline: float
    data: bytearray = field(default_factory=bytearray)


class HeadFirstWorker(ThreadWorker):  # type: ignore[misc]
    """gthread, except that pool threads only ever see complete request heads.

    ``worker_class = "folio_api.head_worker.HeadFirstWorker"``; the deadline is the
    ``HEADER_TIMEOUT_S`` setting.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout_s = load_settings().header_timeout_s
        # In deadline order: every entry gets the same timeout when it is appended.
        self.heads: deque[_Head] = deque()
        self._request_started = threading.local()

    def load_wsgi(self) -> None:
        """The app, told when its request began to arrive (the body deadline counts it)."""
        super().load_wsgi()
        app: Callable[..., Any] = self.wsgi  # type: ignore[has-type]
        started = self._request_started

        def wsgi(environ: dict[str, Any], start_response: Any) -> Any:
            environ[HEAD_STARTED_ENV] = getattr(started, "at", None)
            return app(environ, start_response)

        self.wsgi = wsgi

    def handle_request(self, req: Any, conn: TConn) -> Any:
        self._request_started.at = getattr(conn, "folio_head_started", None)
        return super().handle_request(req, conn)

    def init_process(self) -> None:
        # In this worker process only: gunicorn's error page goes through util.write_error.
        gunicorn_util.write_error = _write_problem
        super().init_process()

    def enqueue_req(self, conn: TConn) -> None:
        """Every route into the pool (accept, keep-alive, pipelining) reads the head first."""
        if self.cfg.is_ssl or getattr(conn, "folio_head_read", False):
            conn.folio_head_read = False
            super().enqueue_req(conn)
            return
        now = time.monotonic()
        head = _Head(conn, now, now + self.header_timeout_s)
        if conn.parser is not None:  # bytes a previous request's read left behind
            head.data += conn.parser.unreader.take_buffered()
        if not self._complete(head):
            conn.sock.setblocking(False)
            self.heads.append(head)
            self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._readable, head))

    def _readable(self, head: _Head, sock: Any) -> None:
        try:
            data = sock.recv(RECV_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:  # the client went away
            self._drop(head)
            return
        head.data += data
        if HEAD_END in head.data[-(len(data) + len(HEAD_END)) :]:
            self._forget(head)
            self._complete(head)
        elif len(head.data) > MAX_HEAD_BYTES:
            self._drop(head, _TOO_LARGE_RESPONSE)

    def _complete(self, head: _Head) -> bool:
        """Hand a complete head (and what followed it) to a pool thread."""
        if HEAD_END not in head.data:
            return False
        conn = head.conn
        if not conn.initialized:
            conn.init()  # plain HTTP: makes the parser, sets the socket blocking
        conn.parser.unreader.unread(bytes(head.data))
        conn.data_ready = True
        conn.folio_head_read = True
        conn.folio_head_started = head.started
        self.enqueue_req(conn)
        return True

    def _forget(self, head: _Head) -> None:
        with contextlib.suppress(ValueError):
            self.heads.remove(head)
        with contextlib.suppress(KeyError, ValueError, OSError):
            self.poller.unregister(head.conn.sock)

    def _drop(self, head: _Head, answer: bytes = b"") -> None:
        self._forget(head)
        if answer:
            with contextlib.suppress(OSError):
                head.conn.sock.send(answer)  # non-blocking, best effort
        self.nr_conns -= 1
        head.conn.close()

    def murder_pending(self) -> None:
        """Called by the main loop about once a second: close heads past their deadline."""
        super().murder_pending()
        now = time.monotonic()
        while self.heads and self.heads[0].deadline <= now:
            self._drop(self.heads[0], _TIMEOUT_RESPONSE)
