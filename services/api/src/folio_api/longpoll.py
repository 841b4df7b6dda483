"""``Prefer: wait=N``: answer when the job ends, or after N seconds, whichever is first.

A waiting request holds no database connection: it subscribes to the job's completion
channel *first*, then reads the job (one SELECT on an autocommit connection: one round
trip, not BEGIN, SELECT and COMMIT), then blocks on Redis. The completion event carries
the finished job, which is the answer; any other wake-up (a one-second slice when Redis
is unreachable, an event without the job) reads it again the same way. Holding a pooled
connection for the wait would let a handful of long-polls starve every other request.

A wait still holds a request thread, so waits are capped per process, in total
(``MAX_WAITS``) and per key (``MAX_WAITS_PER_KEY``): beyond either, the request is answered
at once with the job as it is, without ``Preference-Applied`` — RFC 7240 lets a server
that cannot honour a preference ignore it. The thread pool therefore always keeps
``WEB_THREADS - MAX_WAITS`` threads for everything else.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections import Counter
from collections.abc import Iterator

import falcon
import redis
from folio_common import jobs
from folio_common.database import Database
from folio_common.notify import CompletionHub
from folio_common.settings import Settings

PREFER_HEADER = "Prefer"
PREFERENCE_APPLIED_HEADER = "Preference-Applied"
_WAIT = re.compile(r"(?:^|[,;])\s*wait\s*=\s*\"?(\d{1,9})\"?\s*(?=$|[,;])", re.IGNORECASE)
#: Longest single wait on the listener before the job is read again.
RECHECK_S = 5.0


def preferred_wait(req: falcon.Request, max_wait_s: int) -> int | None:
    """Seconds asked for by ``Prefer: wait=N``, clamped to ``max_wait_s``; None if absent.

    An unparseable preference is ignored, as RFC 7240 asks.
    """
    header = req.get_header(PREFER_HEADER)
    match = _WAIT.search(header) if header else None
    if match is None:
        return None
    return min(int(match.group(1)), max_wait_s)


def apply_wait_preference(resp: falcon.Response, wait_s: int) -> None:
    resp.set_header(PREFERENCE_APPLIED_HEADER, f"wait={wait_s}")


class WaitSlots:
    """Counts the waits in progress in this process, in total and per key.

    Parameters:
      total: most waits at once (0: no waits at all).
      per_key: most waits at once for one key.
    """

    def __init__(self, total: int, per_key: int) -> None:
        self._total = total
        self._per_key = per_key
        self._held: Counter[str] = Counter()
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def slot(self, owner: str) -> Iterator[bool]:
        """Yields whether ``owner`` may wait now; a granted slot is released on exit."""
        with self._lock:
            granted = sum(self._held.values()) < self._total and self._held[owner] < self._per_key
            if granted:
                self._held[owner] += 1
        try:
            yield granted
        finally:
            if granted:
                with self._lock:
                    self._held[owner] -= 1
                    if not self._held[owner]:
                        del self._held[owner]


class JobWaiter:
    """Waits for a job to reach a terminal state without holding a database connection.

    Parameters:
      db: the API's database (short, tightly retried transactions).
      client: Redis client whose pub/sub carries completion events.
      settings: for the channel namespace and the caps on waits.
    """

    def __init__(self, db: Database, client: redis.Redis, settings: Settings) -> None:
        self._db = db
        self._client = client
        self._settings = settings
        self._slots = WaitSlots(settings.max_waits, settings.max_waits_per_key)
        self._hub = CompletionHub(client, settings)

    def wait(
        self, job_id: str, owner: str, timeout_s: int, resp: falcon.Response
    ) -> jobs.Job | None:
        """The job once terminal, or as it is when ``timeout_s`` passes; None if it is gone.

        Over the caps, the job as it is now, and ``resp`` gets no ``Preference-Applied``.
        """
        with self._slots.slot(owner) as granted:
            if not granted:
                return self._db.statement(jobs.get_job, job_id, owner)
            apply_wait_preference(resp, timeout_s)
            return self._wait(job_id, owner, timeout_s)

    def _wait(self, job_id: str, owner: str, timeout_s: float) -> jobs.Job | None:
        deadline = time.monotonic() + timeout_s
        with self._hub.listen(job_id) as listener:
            job = self._db.statement(jobs.get_job, job_id, owner)
            while True:
                remaining = deadline - time.monotonic()
                if job is None or job.is_terminal or remaining <= 0:
                    return job
                listener.wait(min(remaining, RECHECK_S))
                job = listener.finished_job(owner) or self._db.statement(
                    jobs.get_job, job_id, owner
                )
