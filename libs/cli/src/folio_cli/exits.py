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


#: stdout was closed early (``folio result ID | head -1``): 128 + SIGPIPE, as a shell
#: tool killed by the signal reports.
CLOSED_PIPE = 141


class CliError(Exception):
    """Stop the command: print ``message`` on stderr and exit with ``code``.

    Parameters:
      refused: the API answered and refused this request alone (a 4xx other than the
        key's 401/403: not a PDF, too large, a bad option…): a batch goes on with its
        other files.
    """

    def __init__(self, message: str, code: int, *, refused: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.refused = refused
