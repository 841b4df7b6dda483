"""The messages between a worker thread and its sandbox, and what each side does with them.

The parent sends a :class:`Request` (a task and the log context of the job it belongs to);
the child answers with exactly one :class:`Reply`: :class:`Done` with the task's result,
:class:`Failed` when the document is at fault (the job fails with its code), or
:class:`Crashed` when the extraction code itself raised (a bug; the message is retried).
Both ends are plain functions, so the protocol is tested without starting a process.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from folio_common.errors import ErrorCode, JobError
from folio_common.logs import bound_contextvars

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)

log = logging.getLogger("folio.sandbox")


class SandboxTask(Protocol[T_co]):
    """What a sandbox runs: a picklable value whose ``run()`` does the work in the child."""

    def run(self) -> T_co: ...


@dataclass(frozen=True)
class Request(Generic[T]):
    """One task, with the log context (``job_id``, ``request_id``...) its lines must carry:
    the child does not inherit the context the worker thread has bound."""

    task: SandboxTask[T]
    context: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Done(Generic[T]):
    value: T


@dataclass(frozen=True)
class Failed:
    """The document's own failure: the job fails with ``code``."""

    code: ErrorCode
    message: str


@dataclass(frozen=True)
class Crashed:
    """An unexpected exception in the child, as ``Type: message``."""

    error: str


Reply = Done[Any] | Failed | Crashed


def perform(request: Request[Any], memory_limit_mb: int) -> Reply:
    """Run a request's task (in the child) and turn its outcome into a reply."""
    with bound_contextvars(**request.context), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # every one recorded; _log_warnings dedupes
        try:
            reply: Reply = Done(request.task.run())
        except JobError as exc:
            reply = Failed(exc.code, exc.message)
        except MemoryError:
            reply = Failed(ErrorCode.MEMORY_LIMIT, f"over {memory_limit_mb} MB")
        except RecursionError:
            reply = Failed(ErrorCode.INVALID_PDF, "structure nested too deeply")
        except Exception as exc:
            reply = Crashed(f"{type(exc).__name__}: {exc}"[:500])
        _log_warnings(caught)
    return reply


def _log_warnings(caught: list[warnings.WarningMessage]) -> None:
    """Libraries' warnings about a document (pikepdf's are several lines long) as one
    debug line each: they describe the input, not a fault of the worker."""
    seen: set[tuple[str, str]] = set()
    for item in caught:
        text = (str(item.message).strip().splitlines() or [""])[0][:300]
        key = (item.category.__name__, text)
        if key not in seen:
            seen.add(key)
            log.debug("library warning: %s: %s", *key)


def unwrap(reply: Reply) -> Any:
    """The task's result (in the parent); a :class:`JobError` for the document's failures."""
    if isinstance(reply, Done):
        return reply.value
    if isinstance(reply, Failed):
        raise JobError(reply.code, reply.message)
    raise RuntimeError(f"extraction failed: {reply.error}")
