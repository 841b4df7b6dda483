"""Importing the WSGI module (what each gunicorn worker does) connects to nothing and
starts no thread: the app's pool and Redis clients open on first use."""

from __future__ import annotations

import pytest
from testsupport.imports import ConnectionRecorder, state_after_import


@pytest.mark.slow
def test_importing_the_wsgi_app_opens_no_connection_and_starts_no_thread(
    env: dict[str, str],
) -> None:
    recorder = ConnectionRecorder()
    try:
        state = state_after_import("folio_api.wsgi", {**env, **recorder.env()})
    finally:
        recorder.close()
    assert state == {"threads": 1, "sockets": 0}
    assert recorder.accepted == 0
