"""The ``slow`` marker, kept honest and cheap to skip (loaded with ``-p`` in pyproject).

``make test-fast`` (``-m "not slow"``) is the suite a newcomer runs in under a minute, so
everything that starts gunicorn, Dramatiq, a sandbox, a browser, a CLI or a private server
must be marked ``@pytest.mark.slow``. Rather than trust every author to remember, this
plugin makes process creation fail inside an unmarked test (its fixtures included), with
a message that says what to do. And since deselected tests are still imported (Schemathesis
builds its cases at collection: seconds), ``-m "not slow"`` does not even import a module
that marks itself slow as a whole with ``pytestmark = pytest.mark.slow``.
"""

from __future__ import annotations

import multiprocessing.process
import os
import re
import subprocess
from collections.abc import Callable, Generator, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest

MESSAGE = "{test} starts a process ({how}) but is not marked @pytest.mark.slow"
#: A test module that is slow as a whole says so on one line of its own.
SLOW_MODULE = re.compile(r"^pytestmark = pytest\.mark\.slow\b", re.MULTILINE)


class StartsAProcess(Exception):
    """Raised where an unmarked test starts a process."""


def _refuse(test: str, how: str) -> Callable[..., Any]:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise StartsAProcess(MESSAGE.format(test=test, how=how))

    return refuse


@contextmanager
def _no_processes(test: str) -> Iterator[None]:
    """Every way the suite starts a process, refused for the duration."""
    targets: list[tuple[Any, str, str]] = [
        (subprocess.Popen, "_execute_child", "subprocess"),
        (multiprocessing.process.BaseProcess, "start", "multiprocessing"),
        (os, "fork", "os.fork"),
        (os, "posix_spawn", "os.posix_spawn"),
        (os, "system", "os.system"),
    ]
    with ExitStack() as stack:
        for owner, name, how in targets:
            original = getattr(owner, name)
            setattr(owner, name, _refuse(test, how))
            stack.callback(setattr, owner, name, original)
        yield


def _guarded(item: pytest.Item) -> Generator[None, None, None]:
    if item.get_closest_marker("slow") is not None:
        yield
        return
    with _no_processes(item.nodeid):
        yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    yield from _guarded(item)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    yield from _guarded(item)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, None, None]:
    yield from _guarded(item)


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """With exactly ``-m "not slow"``, skip whole-slow modules before importing them."""
    if config.getoption("markexpr") != "not slow" or collection_path.suffix != ".py":
        return None
    if not collection_path.name.startswith("test_"):
        return None
    return True if SLOW_MODULE.search(collection_path.read_text()) else None
