"""Running the real ``folio`` console script as a subprocess."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Mapping

import pytest
from testsupport.procs import BIN

Folio = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def folio(env: dict[str, str]) -> Folio:
    """``folio(*args, extra_env=None)`` → the finished process (text stdout and stderr)."""

    def run(*args: str, extra_env: Mapping[str, str] | None = None, timeout: float = 90):
        environ = {k: v for k, v in os.environ.items() if not k.startswith("FOLIO_API_")}
        return subprocess.run(
            [str(BIN / "folio"), *args],
            check=False,
            env={**environ, **env, **(extra_env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    return run
