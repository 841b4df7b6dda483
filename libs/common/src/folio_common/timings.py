"""Every deadline of a Folio deploy, derived from a few chosen numbers.

The API's long-polls, gunicorn's graceful shutdown, Railway's draining window, the
start-up wait for PostgreSQL and Redis and Railway's health-check timeout all bound one
another; each is computed here from the numbers below, so none can be changed alone.
Users: the settings' defaults, gunicorn's configuration, the start commands' waits and
deploy/railway/railway.py (which loads this file by path: the Railway CLI's ``python3``
need not have Folio installed, so this module imports nothing).

How a deploy's clock runs::

  start:    wait ≤ DEPENDENCY_WAIT_S per dependency, then BOOT_S to gunicorn's first 200
            ≤ api_healthcheck_timeout_s() ≤ Railway's 300 s ceiling
  stop:     SIGTERM → gunicorn lets requests finish for graceful_timeout_s() (a whole
            long-poll and its answer) → exits → SIGKILL only after api_draining_s()
"""

from __future__ import annotations

#: Longest ``Prefer: wait=N`` the API holds (``MAX_WAIT_S``'s default).
LONGEST_LONG_POLL_S = 60
#: Seconds to write a long-poll's answer once its wait ends.
RESPONSE_MARGIN_S = 5
#: Seconds gunicorn's master needs once its workers are done (exit, last log lines).
SHUTDOWN_MARGIN_S = 10
#: Seconds the old API deployment keeps serving after the new one is healthy.
API_OVERLAP_S = 15
#: Seconds a start command waits for each dependency before it gives up.
DEPENDENCY_WAIT_S = 45
#: Dependencies waited for one after the other: PostgreSQL, then Redis.
DEPENDENCIES = 2
#: Seconds from the dependencies answering to gunicorn's first 200 (imports, forks).
BOOT_S = 30
#: Railway's longest health-check window (its default; research/railway.md 3).
RAILWAY_HEALTHCHECK_MAX_S = 300
#: Seconds a stopping worker lets running parts finish (``WORKER_SHUTDOWN_TIMEOUT_S``).
WORKER_SHUTDOWN_TIMEOUT_S = 60
#: Seconds after the worker's own shutdown timeout before SIGKILL: dramatiq's consumer
#: shutdown, the last heartbeat and the log flush.
WORKER_DRAINING_MARGIN_S = 30


def graceful_timeout_s(max_wait_s: int = LONGEST_LONG_POLL_S) -> int:
    """gunicorn's ``graceful_timeout``: an in-flight long-poll ends and is answered."""
    return max_wait_s + RESPONSE_MARGIN_S


def api_draining_s(max_wait_s: int = LONGEST_LONG_POLL_S) -> int:
    """Railway's ``drainingSeconds`` for the API: gunicorn's whole graceful shutdown."""
    return graceful_timeout_s(max_wait_s) + SHUTDOWN_MARGIN_S


def startup_wait_s() -> int:
    """Longest a start command waits for its dependencies, all of them."""
    return DEPENDENCIES * DEPENDENCY_WAIT_S


def api_healthcheck_timeout_s() -> int:
    """Railway's ``healthcheckTimeout`` for the API: the whole wait, then the boot."""
    return startup_wait_s() + BOOT_S


def worker_draining_s(shutdown_timeout_s: int = WORKER_SHUTDOWN_TIMEOUT_S) -> int:
    """Railway's ``drainingSeconds`` for the worker: its shutdown timeout and a margin."""
    return shutdown_timeout_s + WORKER_DRAINING_MARGIN_S
