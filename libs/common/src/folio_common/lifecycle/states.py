"""Statuses, the transition table, and the attempts rule: the state machine as data.

Every transition in :mod:`.transitions` takes its allowed from-states from :data:`RULES`
(bound into its SQL), so this table is the one place that says which moves are legal;
docs/architecture.md draws it and a test checks the drawing against it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class JobStatus(StrEnum):
    """A job's status. The values are part of the public API and of the ``jobs`` table."""

    #: Accepted and durable; waiting for a worker (or for the sweeper to enqueue it).
    QUEUED = "queued"
    #: Claimed by a worker: being planned, extracted, or its parts fanned out.
    PROCESSING = "processing"
    #: Every selected page was recorded; the result is readable until ``expires_at``.
    SUCCEEDED = "succeeded"
    #: Ended with an error code (the document's fault, or out of attempts).
    FAILED = "failed"
    #: Cancelled by its owner before it ended.
    CANCELLED = "cancelled"


#: Statuses a job can leave.
LIVE = frozenset({JobStatus.QUEUED, JobStatus.PROCESSING})
#: Final statuses: only purged (results dropped) from here.
TERMINAL = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED})


class Transition(StrEnum):
    """Every way a job's status may change (or be checked before work is recorded)."""

    SUBMIT = "submit"
    CLAIM = "claim"
    PLAN = "plan"
    RECORD_PART = "record_part"
    RESEND_PARTS = "resend_parts"
    SUCCEED = "succeed"
    FAIL = "fail"
    RELEASE = "release"
    RECOVER = "recover"
    REENQUEUE = "reenqueue"
    RESET = "reset"
    CANCEL = "cancel"
    PURGE = "purge"


@dataclass(frozen=True)
class Rule:
    """Where a transition may start and where it leads.

    Parameters:
      sources: statuses it accepts; ``None`` stands for "no job yet" (submission).
      target: the status it sets; ``None`` leaves the status as it is.
      note: when it happens, for the architecture diagram and readers.
    """

    sources: frozenset[JobStatus | None]
    target: JobStatus | None
    note: str


_Q, _P = JobStatus.QUEUED, JobStatus.PROCESSING

RULES: dict[Transition, Rule] = {
    Transition.SUBMIT: Rule(frozenset({None}), _Q, "the API stored the upload"),
    Transition.CLAIM: Rule(
        frozenset({_Q, _P}), _P, "a worker takes it (processing: only once its heartbeat is stale)"
    ),
    Transition.PLAN: Rule(frozenset({_P}), None, "page count, metadata and parts recorded"),
    Transition.RECORD_PART: Rule(frozenset({_P}), None, "a part's pages recorded"),
    Transition.RESEND_PARTS: Rule(frozenset({_P}), None, "the sweeper re-sends unfinished parts"),
    Transition.SUCCEED: Rule(frozenset({_P}), JobStatus.SUCCEEDED, "the last part recorded"),
    Transition.FAIL: Rule(frozenset({_Q, _P}), JobStatus.FAILED, "a permanent error"),
    Transition.RELEASE: Rule(frozenset({_P}), _Q, "a transient error or a worker shutting down"),
    Transition.RECOVER: Rule(frozenset({_P}), _Q, "the sweeper: its worker stopped beating"),
    Transition.REENQUEUE: Rule(frozenset({_Q}), None, "its message was never sent, or lost"),
    Transition.RESET: Rule(frozenset({JobStatus.FAILED}), _Q, "an operator runs it again"),
    Transition.CANCEL: Rule(frozenset({_Q, _P}), JobStatus.CANCELLED, "its owner cancels it"),
    Transition.PURGE: Rule(frozenset(TERMINAL), None, "retention, or DELETE of a finished job"),
}


def allowed(transition: Transition, status: JobStatus | None) -> bool:
    """Whether ``transition`` may start from ``status``."""
    return status in RULES[transition].sources


def sources(transition: Transition) -> list[str]:
    """The statuses ``transition`` starts from, as bound into its SQL."""
    return sorted(s.value for s in RULES[transition].sources if s is not None)


def target(transition: Transition) -> str:
    """The status ``transition`` sets, as bound into its SQL."""
    status = RULES[transition].target
    if status is None:
        raise ValueError(f"{transition} does not change the status")
    return status.value


def exhausted(attempt: int, max_attempts: int) -> bool:
    """The one attempts rule: may try number ``attempt`` (1-based) still run?

    A job (or a part) gets ``max_attempts`` tries; the one after that fails the job as
    ``worker_lost`` instead of running.
    """
    return attempt > max_attempts
