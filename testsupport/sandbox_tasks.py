"""Tasks that exist only to test the sandbox protocol: they echo, fail, crash or block on
purpose, so no test needs a document that is slow on some machine and fast on another.

They live outside the tests so the sandbox child can import them by name.
"""

from __future__ import annotations

import os
import signal
import threading
import warnings
from dataclasses import dataclass
from typing import Any

import structlog
from folio_common.errors import ErrorCode, JobError


@dataclass(frozen=True)
class PidTask:
    """The process the task ran in (tells a reused sandbox from a fresh one)."""

    def run(self) -> int:
        return os.getpid()


@dataclass(frozen=True)
class ContextTask:
    """The log context bound while the task runs."""

    def run(self) -> dict[str, Any]:
        return structlog.contextvars.get_contextvars()


@dataclass(frozen=True)
class FailTask:
    code: ErrorCode
    message: str

    def run(self) -> None:
        raise JobError(self.code, self.message)


@dataclass(frozen=True)
class RaiseTask:
    """Raises ``exception`` (a bug, a MemoryError, a RecursionError...)."""

    exception: BaseException

    def run(self) -> None:
        raise self.exception


@dataclass(frozen=True)
class WarnTask:
    """Emits a multi-line warning of ``category``, twice, then returns."""

    category: type[Warning]
    message: str

    def run(self) -> str:
        for _ in range(2):
            warnings.warn(self.message, self.category, stacklevel=1)
        return "warned"


@dataclass(frozen=True)
class SignalTask:
    """Kills its own process with ``signum``, as a crashing extractor or the OOM killer does."""

    signum: int

    def run(self) -> None:
        os.kill(os.getpid(), self.signum)
        signal.pause()


@dataclass(frozen=True)
class BlockTask:
    """Never returns and uses no CPU: only the wall-time limit can end it."""

    def run(self) -> None:
        threading.Event().wait()


@dataclass(frozen=True)
class BurnTask:
    """Spend ``cpu_s`` seconds of CPU time (counted by the process, so the same on any
    machine), then return the process's total CPU seconds."""

    cpu_s: float

    def run(self) -> float:
        import time

        start = time.process_time()
        while time.process_time() - start < self.cpu_s:
            pass
        return time.process_time()


@dataclass(frozen=True)
class GcTask:
    """(objects frozen, objects the collector still tracks) in the process."""

    def run(self) -> tuple[int, int]:
        import gc

        return gc.get_freeze_count(), len(gc.get_objects())
