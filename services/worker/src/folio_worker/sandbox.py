"""Sandboxes: child processes that run extraction under OS-enforced limits.

A hostile PDF can loop forever or allocate without bound, and pdfminer and qpdf have no
limits of their own. So each Dramatiq worker thread hands its extraction to its own
sandbox process, which runs with ``RLIMIT_AS`` (address space) and ``RLIMIT_CPU`` set,
while the thread waits with a wall-clock deadline and kills the child when it passes.
The worker process survives whatever the document does.

Sandboxes come from a ``forkserver`` that has already imported pikepdf, pdfminer and
pypdfium2: a new one starts in milliseconds, holds none of the worker's threads or
sockets, and is recycled after ``max_tasks`` tasks (the max-tasks-per-child Dramatiq lacks).

What crosses the pipe is typed: a task from :mod:`.tasks` goes in, a reply of
:mod:`.sandbox_protocol` comes out, and :meth:`Sandbox.run` returns the task's own result
type or raises :class:`JobError`.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
import resource
import signal
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import TypeVar

import structlog
from folio_common.bootstrap import start_process
from folio_common.errors import ErrorCode, JobError

from .sandbox_protocol import Failed, Reply, Request, SandboxTask, perform, unwrap

T = TypeVar("T")

#: Modules the forkserver imports once, so every sandbox starts with them loaded.
#: ``folio_worker.sandbox`` holds the children's entry point and pulls in settings and
#: logging: without it each new sandbox spent ~1.5 s importing before its first task.
#: ``folio_worker.cli`` because on Pythons without the fix for CPython gh-126631 (3.11,
#: 3.12) the forkserver ignores ``"__main__"``, so each child re-runs the parent's main
#: script: the ``folio-worker`` console script, which imports it (0.3 s per new sandbox).
PRELOAD = [
    "__main__",
    "folio_worker.cli",
    "folio_worker.sandbox",
    "folio_worker.extraction",
    "folio_worker.tasks",
    "pikepdf",
    "pdfminer.high_level",
    "pypdfium2",
]
#: The CPU-time backstop, as a multiple of the wall-time limit (the thread enforces wall time).
CPU_LIMIT_FACTOR = 2


def exit_error(code: int | None) -> JobError:
    """Whose fault a child's death was, from its exit code (``-N``: killed by signal N)."""
    if code is not None and code < 0:
        sig = signal.Signals(-code)
        if sig == signal.SIGXCPU:
            return JobError(ErrorCode.TIMEOUT, "extraction exceeded its CPU time limit")
        if sig in (signal.SIGKILL, signal.SIGABRT):
            # Under RLIMIT_AS a failed C++ allocation aborts; the OOM killer kills.
            return JobError(ErrorCode.MEMORY_LIMIT, f"extraction ran out of memory ({sig.name})")
        return JobError(ErrorCode.INVALID_PDF, f"the PDF crashed the extractor ({sig.name})")
    return JobError(ErrorCode.INTERNAL, f"extraction process exited ({code})")


class Cancelled(Exception):
    """The job was cancelled while its extraction ran; the sandbox was stopped."""


class SandboxStopped(Exception):
    """The worker is shutting down and stopped the sandbox mid-task: not the document's
    fault, so the job is not failed; the message is retried."""


def _serve(conn: Connection, memory_limit_mb: int, cpu_limit_s: int) -> None:
    """The sandbox's main loop: run tasks until the parent sends None or goes away."""
    # The ~80,000 objects the forkserver preloaded are shared with it copy-on-write. Left
    # to the collector, a child's first full collection walked them all, writing to each
    # one's header: ~45 ms inside some task of every new sandbox (SANDBOX_MAX_TASKS
    # recycles them), and the shared pages copied. Frozen, no collection looks at them.
    gc.freeze()
    limit = memory_limit_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    # The inherited hard limit stays: a lowered one could never be raised for the next task.
    cpu_hard = resource.getrlimit(resource.RLIMIT_CPU)[1]
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the worker's to handle
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    start_process("worker")
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            return
        if request is None:
            return
        _renew_cpu_limit(cpu_limit_s, cpu_hard)
        reply = perform(request, memory_limit_mb)
        try:
            conn.send(reply)
        except MemoryError:
            conn.send(Failed(ErrorCode.MEMORY_LIMIT, "result too large"))


def _renew_cpu_limit(cpu_limit_s: int, hard: int) -> None:
    """Each task its own CPU budget: RLIMIT_CPU counts the process's whole life, and a
    sandbox that has read 40 OCR pages of 3 s each would kill the next page at once. The
    soft limit moves; SIGXCPU at it ends the process (the hard limit cannot be raised)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    soft = int(usage.ru_utime + usage.ru_stime) + cpu_limit_s
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


def _context() -> multiprocessing.context.ForkServerContext:
    ctx: multiprocessing.context.ForkServerContext = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)
    return ctx


class Sandbox:
    """One child process, reused for up to ``max_tasks`` tasks.

    Parameters:
      memory_limit_mb: the child's address-space limit (``RLIMIT_AS``).
      time_limit_s: default wall time of one task; the child is killed after it.
      max_tasks: tasks before the child is replaced by a fresh one.
    """

    def __init__(self, memory_limit_mb: int, time_limit_s: float, max_tasks: int) -> None:
        self.memory_limit_mb = memory_limit_mb
        self.time_limit_s = time_limit_s
        self.max_tasks = max_tasks
        self._process: BaseProcess | None = None
        self._conn: Connection | None = None
        self._tasks = 0
        #: Set by :meth:`SandboxPool.close`: the worker is shutting down.
        self.stopping = False

    def start(self) -> tuple[BaseProcess, Connection]:
        """The running child, started (or replaced, once it has served ``max_tasks``)."""
        if self._process is not None and self._process.is_alive() and self._tasks < self.max_tasks:
            assert self._conn is not None
            return self._process, self._conn
        self.close()
        parent, child = _context().Pipe()
        cpu_limit = int(self.time_limit_s * CPU_LIMIT_FACTOR) + 1
        process = _context().Process(
            target=_serve,
            args=(child, self.memory_limit_mb, cpu_limit),
            daemon=True,
            name="folio-sandbox",
        )
        process.start()
        child.close()
        self._process, self._conn, self._tasks = process, parent, 0
        return process, parent

    def run(
        self,
        task: SandboxTask[T],
        *,
        time_limit_s: float | None = None,
        on_tick: Callable[[], bool] | None = None,
        tick_s: float = 1.0,
    ) -> T:
        """Run ``task`` in the child and return its result.

        The log context bound in the calling thread travels with the task, so the child's
        lines carry the job's ``job_id`` and ``request_id``. ``on_tick`` is called every
        ``tick_s`` while the task runs (heartbeats); when it returns False the child is
        killed and :class:`Cancelled` raised. Raises :class:`JobError` for the document's
        own failures (including ``timeout``), RuntimeError for a bug in the child.
        """
        if self.stopping:
            raise SandboxStopped("the worker is shutting down")
        limit = time_limit_s or self.time_limit_s
        process, conn = self.start()
        self._tasks += 1
        try:
            conn.send(Request(task, structlog.contextvars.get_contextvars()))
            started = time.monotonic()
            next_tick = started + tick_s
            while True:
                now = time.monotonic()
                if now - started >= limit:
                    self.kill()
                    raise JobError(ErrorCode.TIMEOUT, f"extraction took longer than {limit:g}s")
                if conn.poll(max(0.0, min(next_tick, started + limit) - now)):
                    break
                if on_tick is not None and time.monotonic() >= next_tick:
                    next_tick += tick_s
                    if not on_tick():
                        self.kill()
                        raise Cancelled()
            reply: Reply = conn.recv()
        except (EOFError, OSError):
            # Closed under us (shutdown) or the child died: which one decides the blame.
            if self.stopping:
                raise SandboxStopped("the worker stopped the extraction to shut down") from None
            raise self._died(process) from None
        if isinstance(reply, Failed) and reply.code == ErrorCode.MEMORY_LIMIT:
            self.close()  # a child that hit its limit may be left fragmented
        result: T = unwrap(reply)
        return result

    def _died(self, process: BaseProcess) -> JobError:
        process.join(5)
        self._process = self._conn = None
        return exit_error(process.exitcode)

    def kill(self) -> None:
        if self._process is not None and self._process.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._process.pid, signal.SIGKILL)
            self._process.join(5)
        self._cleanup()

    def close(self) -> None:
        """Stop the child gracefully (or kill it if it does not go)."""
        if self._process is not None and self._conn is not None:
            try:
                self._conn.send(None)
                self._process.join(2)
            except (OSError, BrokenPipeError):
                pass
            if self._process.is_alive():
                self.kill()
        self._cleanup()

    def _cleanup(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._process = self._conn = None


class SandboxPool:
    """One sandbox per worker thread, created on first use."""

    def __init__(self, memory_limit_mb: int, time_limit_s: float, max_tasks: int) -> None:
        self._args = (memory_limit_mb, time_limit_s, max_tasks)
        self._local = threading.local()
        self._all: list[Sandbox] = []
        self._idle: list[Sandbox] = []
        self._lock = threading.Lock()

    def warm(self, count: int) -> None:
        """Start ``count`` sandboxes now, so the first jobs do not wait for one to boot."""
        for _ in range(count):
            sandbox = Sandbox(*self._args)
            sandbox.start()
            with self._lock:
                self._all.append(sandbox)
                self._idle.append(sandbox)

    def get(self) -> Sandbox:
        sandbox: Sandbox | None = getattr(self._local, "sandbox", None)
        if sandbox is None:
            with self._lock:
                sandbox = self._idle.pop() if self._idle else None
                if sandbox is None:
                    sandbox = Sandbox(*self._args)
                    self._all.append(sandbox)
            self._local.sandbox = sandbox
        return sandbox

    def close(self) -> None:
        """Stop every sandbox; a task still running raises :class:`SandboxStopped`."""
        with self._lock:
            for sandbox in self._all:
                sandbox.stopping = True
                sandbox.close()
            self._all.clear()
            self._idle.clear()
