"""``folio-api serve``: check the settings, wait for the dependencies, become gunicorn.

The process *execs* gunicorn rather than running it as a child, so the platform's
SIGTERM reaches gunicorn's master directly and the graceful shutdown is gunicorn's own.
Waiting first (bounded) keeps a fresh deploy from crash-looping while Postgres or Redis
come up; a bad setting exits 2 with one line naming the variable.
"""

from __future__ import annotations

import argparse
import os
import sys

from folio_common import timings
from folio_common.bootstrap import start_process
from folio_common.logs import get_logger
from folio_common.wait import DependencyUnavailable, wait_for_dependencies

log = get_logger("folio.api.cli")

#: gunicorn's configuration, importable wherever the package is installed.
GUNICORN_CONFIG = "python:folio_api.gunicorn_config"
WSGI_APP = "folio_api.wsgi:app"
#: Default seconds to wait for each dependency before giving up (the health check's
#: timeout allows for all of them, see folio_common.timings).
DEFAULT_WAIT_S = float(timings.DEPENDENCY_WAIT_S)


def gunicorn_argv(extra: list[str]) -> list[str]:
    return [sys.executable, "-m", "gunicorn", "-c", GUNICORN_CONFIG, *extra, WSGI_APP]


def serve(args: argparse.Namespace) -> int:
    settings = start_process("api")
    if args.wait_s > 0:
        try:
            wait_for_dependencies(settings, args.wait_s)
        except DependencyUnavailable as exc:
            log.error("a dependency is unreachable; not starting", error=str(exc))
            return 1
    argv = gunicorn_argv(args.gunicorn_args)
    log.info("starting gunicorn", port=settings.port)
    sys.stdout.flush()
    os.execvp(argv[0], argv)  # noqa: S606 - a fixed argv, no shell
    return 0  # not reached


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="folio-api", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    serve_cmd = commands.add_parser("serve", help="wait for Postgres and Redis, then run gunicorn")
    serve_cmd.add_argument(
        "--wait-s",
        type=float,
        default=DEFAULT_WAIT_S,
        help="seconds to wait for each dependency (0: do not wait)",
    )
    serve_cmd.add_argument(
        "gunicorn_args", nargs=argparse.REMAINDER, help="passed to gunicorn after --"
    )
    args = parser.parse_args(argv)
    if args.gunicorn_args[:1] == ["--"]:
        args.gunicorn_args = args.gunicorn_args[1:]
    return serve(args)


if __name__ == "__main__":
    sys.exit(main())
