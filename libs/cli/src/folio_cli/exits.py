"""Exit codes of ``folio``, and the error that carries one to ``main``."""

from __future__ import annotations

#: Done: the job was accepted, succeeded, or the operation worked.
OK = 0
#: A job failed or was cancelled, a job was not found, or a check found a problem.
FAILED = 1
#: Bad usage or configuration: a wrong argument, a missing or refused API key.
USAGE = 2
#: The API, the database or Redis could not be reached.
UNREACHABLE = 3


class CliError(Exception):
    """Stop the command: print ``message`` on stderr and exit with ``code``."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code
