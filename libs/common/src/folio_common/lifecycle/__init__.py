"""The job lifecycle: statuses, the transitions between them, and their after-commit effects.

- :mod:`.states` — the statuses, the transition table and the attempts rule;
- :mod:`.effects` — what a transition asks to happen once its transaction commits;
- :mod:`.transitions` — one function per transition: the only SQL that writes a status;
- :mod:`.runner` — :class:`~.runner.Lifecycle` runs a transition in one unit of work, then
  its effects.

The API, the worker, the sweeper and the CLI move jobs only through these functions.
"""

from .states import LIVE, TERMINAL, JobStatus, Transition

__all__ = ["LIVE", "TERMINAL", "JobStatus", "Transition"]
