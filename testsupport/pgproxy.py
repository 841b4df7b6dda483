"""A real TCP proxy in front of PostgreSQL that drops connections at chosen moments.

Tests of what a dropped connection does to a unit of work point the code under test at
:attr:`PgProxy.url` and arm the proxy: it forwards bytes unchanged until the client sends
a message containing a marker, then cuts both sides of that connection either *before*
forwarding it (the server never saw the statement) or *after* the server answered it up
to ReadyForQuery (the statement ran — and, outside a transaction block, committed — but
the client never hears so). :meth:`PgProxy.drop_all` cuts every open connection, as a
restarted server or a NAT timeout leaves a pool's idle connections.

Plain TCP only: use it with ``sslmode=disable`` (and ``gssencmode=disable``).

Unarmed, it is a counting pass-through for any request/response protocol (the capacity
benchmark puts one in front of Redis too): ``sends`` counts the client's writes — one per
round trip, a pipeline being one — and ``bytes_up``/``bytes_down`` what crossed.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from dataclasses import dataclass

#: ReadyForQuery: type byte, length 5, then the transaction status byte.
READY_FOR_QUERY = b"Z\x00\x00\x00\x05"


@dataclass
class _Arm:
    marker: bytes
    when: str  # "before" | "after"
    times: int


class _Link:
    """One client connection and its upstream connection, pumped by two threads."""

    def __init__(self, proxy: PgProxy, client: socket.socket, upstream: socket.socket) -> None:
        self.proxy = proxy
        self.client = client
        self.upstream = upstream
        self.cut_on_ready = False
        self.closed = threading.Event()

    def start(self) -> None:
        for target in (self._client_to_server, self._server_to_client):
            threading.Thread(target=target, daemon=True).start()

    def close(self) -> None:
        self.closed.set()
        for sock in (self.client, self.upstream):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()

    def _client_to_server(self) -> None:
        try:
            while data := self.client.recv(65536):
                when = self.proxy._take(data)
                if when == "before":
                    self.close()
                    return
                if when == "after":
                    self.cut_on_ready = True
                self.proxy._count(up=len(data))
                self.upstream.sendall(data)
        except OSError:
            pass
        self.close()

    def _server_to_client(self) -> None:
        held = b""
        try:
            while data := self.upstream.recv(65536):
                if self.cut_on_ready:
                    held += data
                    if READY_FOR_QUERY in held:  # the server is done with it: lose the answer
                        self.close()
                        return
                    continue
                self.proxy._count(down=len(data))
                self.client.sendall(data)
        except OSError:
            pass
        self.close()


class PgProxy:
    """Listens on 127.0.0.1 (a free port) and forwards to ``upstream``.

    Use as a context manager. ``cuts`` counts the connections cut by an armed marker.
    """

    def __init__(self, upstream: tuple[str, int] = ("127.0.0.1", 5432)) -> None:
        self.upstream = upstream
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._links: list[_Link] = []
        self._arm: _Arm | None = None
        self._lock = threading.Lock()
        self.cuts = 0
        self.sends = 0
        self.bytes_up = 0
        self.bytes_down = 0

    def _count(self, up: int = 0, down: int = 0) -> None:
        with self._lock:
            self.sends += 1 if up else 0
            self.bytes_up += up
            self.bytes_down += down

    def counters(self) -> tuple[int, int, int]:
        """(client writes, bytes to the server, bytes back) so far."""
        with self._lock:
            return self.sends, self.bytes_up, self.bytes_down

    def url(self, database_url: str) -> str:
        """``database_url`` pointed at the proxy (plain TCP)."""
        rest = database_url.split("@", 1)[1].split("/", 1)[1].split("?", 1)[0]
        user = database_url.split("://", 1)[1].split("@", 1)[0]
        return (
            f"postgresql://{user}@127.0.0.1:{self.port}/{rest}?sslmode=disable&gssencmode=disable"
        )

    def arm(self, marker: bytes, when: str, times: int = 1) -> None:
        """Cut the next ``times`` connections that send ``marker``, ``before`` forwarding
        it or ``after`` the server's answer to it."""
        assert when in ("before", "after")
        with self._lock:
            self._arm = _Arm(marker, when, times)

    def drop_all(self) -> None:
        """Cut every open connection (the pool still holds them, now dead)."""
        with self._lock:
            links, self._links = self._links, []
        for link in links:
            link.close()

    def _take(self, data: bytes) -> str | None:
        with self._lock:
            arm = self._arm
            if arm is None or arm.marker not in data:
                return None
            arm.times -= 1
            if arm.times <= 0:
                self._arm = None
            self.cuts += 1
            return arm.when

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.upstream)
            except OSError:
                client.close()
                continue
            link = _Link(self, client, upstream)
            with self._lock:
                self._links.append(link)
            link.start()

    def __enter__(self) -> PgProxy:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._listener.close()
        self.drop_all()
