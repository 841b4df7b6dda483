"""What a transition asks to happen once — and only once — its transaction has committed.

A transition returns a :class:`Step`: its value and a tuple of effects. Nothing here runs
anything; :class:`~folio_common.lifecycle.runner.Lifecycle` does, after the commit, so a
rolled-back or retried unit of work never sends a message for a job that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from folio_common.jobs import Job

T = TypeVar("T")
U = TypeVar("U")


@dataclass(frozen=True)
class EnqueueJob:
    """Send the job's first message, then note it was sent (``enqueued_at``).

    ``noted``: the transition set ``enqueued_at`` already (a submission, optimistically);
    only a failed send touches the job again, to clear it for the sweeper.
    """

    job_id: str
    request_id: str | None
    noted: bool = False


@dataclass(frozen=True)
class EnqueuePart:
    """Send the message that extracts one part of a split document."""

    job_id: str
    part_no: int
    request_id: str | None


@dataclass(frozen=True)
class Announce:
    """The job ended: log its outcome, wake its long-polls, queue its webhook."""

    job: Job


Effect = EnqueueJob | EnqueuePart | Announce


@dataclass(frozen=True)
class Step(Generic[T]):
    """A transition's result: ``value`` for the caller, ``effects`` for after the commit."""

    value: T
    effects: tuple[Effect, ...] = ()

    def then(self, other: Step[U]) -> Step[U]:
        """``other``'s value with both steps' effects, in order."""
        return Step(other.value, self.effects + other.effects)
