"""Job completion events over Redis pub/sub, so long-polls wait without a database connection.

An event carries the finished job (:meth:`~folio_common.jobs.Job.to_json`, no password),
so a woken waiter answers without reading the job again: one PostgreSQL round trip less
per waiter. An event it cannot use (one larger than :data:`MAX_EVENT_BYTES`, or from a
release that sent only the status) just makes it read the job, as before.

Publishing is best effort: a waiter that misses an event (Redis down) still re-reads the
job when its wait ends, and waits in short slices so it notices within a second. Each
process listens through one :class:`CompletionHub`.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
from collections.abc import Iterator
from typing import Any

import redis

from .jobs import Job
from .logs import get_logger
from .redis_client import key
from .settings import Settings

log = get_logger("folio.notify")


def channel(settings: Settings, job_id: str) -> str:
    return key(settings, "job-done", job_id)


#: Largest event with the job in it (its metadata can be long); a larger job is announced
#: by its status alone, and its waiters read it.
MAX_EVENT_BYTES = 16 * 1024


def publish_done(client: redis.Redis, settings: Settings, job: Job) -> None:
    message = json.dumps(job.to_json()).encode()
    if len(message) > MAX_EVENT_BYTES:
        message = job.status.encode()
    try:
        client.publish(channel(settings, job.id), message)
    except redis.RedisError as exc:
        log.warning("could not publish job completion", job_id=job.id, error=type(exc).__name__)


#: Longest the first wait of a process waits for the hub's subscription.
FIRST_SUBSCRIBE_S = 1.0
#: A wait while the hub is not subscribed (Redis unreachable) is cut into slices this long,
#: so the waiter re-reads the job at least this often.
UNSUBSCRIBED_SLICE_S = 0.5


class Listener:
    """One waiter's view of the hub: :meth:`wait` for its job's completion."""

    def __init__(self, hub: CompletionHub) -> None:
        self._hub = hub
        self._event = threading.Event()
        #: The last completion message heard for the job (set by the hub's thread).
        self.message: bytes | None = None

    def wake(self, message: bytes | None = None) -> None:
        if message is not None:
            self.message = message
        self._event.set()

    def wait(self, timeout_s: float) -> bool:
        """True when a completion (or a reason to look again) arrived; False on timeout,
        which is at most :data:`UNSUBSCRIBED_SLICE_S` while Redis is unreachable."""
        if not self._hub.subscribed:
            timeout_s = min(timeout_s, UNSUBSCRIBED_SLICE_S)
        arrived = self._event.wait(max(0.0, timeout_s))
        self._event.clear()
        return arrived

    def finished_job(self, owner: str) -> Job | None:
        """The job the completion message carried, if it did and ``owner`` owns it."""
        if self.message is None:
            return None
        try:
            job = Job.from_json(json.loads(self.message))
        except (ValueError, KeyError, TypeError):  # a status alone, or another release's
            return None
        return job if job.owner == owner and job.is_terminal else None


class CompletionHub:
    """One pattern subscription per process, shared by every wait in it.

    A subscription per wait opened a Redis connection per long-poll (redis-py closes a
    pub/sub's connection when it is done with it): with TLS, a handshake per request. The
    hub's thread, started by the first wait after the fork, holds one subscription to every
    job's completion channel and wakes the waiters of each job that ends.

    A waiter registers before it reads the job, so a completion cannot slip in between.
    Completions published while the subscription is down are not heard: when it is back,
    every waiter is woken to read its job again.
    """

    def __init__(self, client: redis.Redis, settings: Settings) -> None:
        self._client = client
        self._prefix = channel(settings, "")
        self._waiters: dict[str, set[Listener]] = {}
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def subscribed(self) -> bool:
        return self._subscribed.is_set()

    @contextlib.contextmanager
    def listen(self, job_id: str) -> Iterator[Listener]:
        """Register for ``job_id``'s completion for the duration of the block."""
        listener = Listener(self)
        with self._lock:
            self._waiters.setdefault(job_id, set()).add(listener)
            first = self._thread is None
            if first:
                self._thread = threading.Thread(
                    target=self._run, name="folio-completions", daemon=True
                )
                self._thread.start()
        if first:  # the subscription is made once per process: let it be in place
            self._subscribed.wait(FIRST_SUBSCRIBE_S)
        try:
            yield listener
        finally:
            with self._lock:
                listeners = self._waiters.get(job_id)
                if listeners is not None:
                    listeners.discard(listener)
                    if not listeners:
                        del self._waiters[job_id]

    def close(self) -> None:
        """Stop the hub's thread (within a second)."""
        self._stopped.set()
        if self._thread is not None:
            self._thread.join(5)

    def _run(self) -> None:
        delay_s = 0.1
        ever_subscribed = False
        while not self._stopped.is_set():
            pubsub: Any = self._client.pubsub()  # type: ignore[no-untyped-call]
            try:
                pubsub.psubscribe(re.sub(r"([*?\[\]\\])", r"\\\1", self._prefix) + "*")
                while not self._stopped.is_set():
                    message = pubsub.get_message(timeout=1.0)
                    if message is None:
                        continue
                    if message["type"] == "psubscribe":
                        self._subscribed.set()
                        if ever_subscribed:  # what ended meanwhile was not heard
                            self._wake_all()
                        ever_subscribed, delay_s = True, 0.1
                    elif message["type"] == "pmessage":
                        self._wake(message["channel"], message["data"])
            except (redis.RedisError, OSError, ValueError) as exc:
                # ValueError: the client's pool was closed under the read (a shutdown).
                if self._subscribed.is_set():
                    log.warning("completion subscription lost", error=type(exc).__name__)
                self._subscribed.clear()
                self._wake_all()  # waiters read their jobs again, in short slices
                self._stopped.wait(delay_s)
                delay_s = min(delay_s * 2, 5.0)
            finally:
                with contextlib.suppress(redis.RedisError, OSError, ValueError):
                    pubsub.close()
        self._subscribed.clear()

    def _wake(self, name: bytes | str, message: bytes) -> None:
        name = name.decode() if isinstance(name, bytes) else name
        with self._lock:
            listeners = list(self._waiters.get(name.removeprefix(self._prefix), ()))
        for listener in listeners:
            listener.wake(message)

    def _wake_all(self) -> None:
        with self._lock:
            listeners = [one for listeners in self._waiters.values() for one in listeners]
        for listener in listeners:
            listener.wake()
