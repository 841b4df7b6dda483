"""folio: submit PDFs and read results (over HTTP), or operate a deployment.

Exit codes: 0 ok; 1 a job failed, a file was refused or a check found a problem; 2 usage
or configuration; 3 the API, the database or Redis is unreachable; 141 stdout was closed.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable

from folio_common.bootstrap import start_process
from folio_common.lifecycle import JobStatus
from folio_common.options import OCR_MODES
from folio_common.settings import ENGINES, Settings, SettingsError

from . import __version__, client
from .api_client import ApiClient
from .exits import CLOSED_PIPE, USAGE, CliError

#: Where the client commands look for the API when neither flag nor variable says.
DEFAULT_API_URL = "http://127.0.0.1:8000"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_UNIT_S = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
EPILOG = (
    "Client commands use --api-url/--api-key or FOLIO_API_URL/FOLIO_API_KEY; operator "
    "commands use DATABASE_URL and REDIS_URL like the services. Exit codes: 0 ok, 1 job "
    "failed, file refused or check failed, 2 usage or configuration, 3 unreachable."
)


def _connection_options() -> argparse.ArgumentParser:
    # SUPPRESS: a flag given before the command is not overwritten by the sub-parser.
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--api-url", default=argparse.SUPPRESS, help="default: FOLIO_API_URL")
    parent.add_argument("--api-key", default=argparse.SUPPRESS, help="default: FOLIO_API_KEY")
    return parent


def _json_option() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--json", action="store_true", help="one JSON document per line")
    return parent


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="folio", description=__doc__.split("\n")[0], epilog=EPILOG
    )
    parser.add_argument("--version", action="version", version=f"folio {__version__}")
    parser.add_argument("--api-url", default=None, help="the API's base URL (FOLIO_API_URL)")
    parser.add_argument("--api-key", default=None, help="an API key (FOLIO_API_KEY)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    http, as_json = _connection_options(), _json_option()

    cmd = commands.add_parser(
        "submit", parents=[http, as_json], help="upload PDFs; --wait for their text"
    )
    cmd.add_argument("files", nargs="+", metavar="FILE", help="PDF files to submit")
    cmd.add_argument("--wait", action="store_true", help="wait until every job ends")
    cmd.add_argument("--engine", choices=ENGINES, help="extraction engine (default: the API's)")
    cmd.add_argument("--pages", help="page range, e.g. 1-5,9 (default: all)")
    cmd.add_argument("--password", help="password of encrypted PDFs")
    cmd.add_argument(
        "--ocr",
        choices=OCR_MODES,
        help="auto: OCR scanned pages (default); force: OCR every page; off: never",
    )
    cmd.add_argument("--languages", help="OCR languages, Tesseract codes joined by +, e.g. eng+fra")
    cmd.add_argument(
        "--timeout", type=float, default=600.0, help="seconds --wait waits (default 600)"
    )
    cmd.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar on stderr while waiting (default: when stderr is a terminal)",
    )
    cmd.set_defaults(run=client.submit, kind="client")

    cmd = commands.add_parser("status", parents=[http, as_json], help="a job's status")
    cmd.add_argument("id", help="job id")
    cmd.add_argument(
        "--wait", type=int, default=0, metavar="S", help="long-poll up to S seconds for its end"
    )
    cmd.set_defaults(run=client.status, kind="client")

    cmd = commands.add_parser("result", parents=[http], help="a succeeded job's result")
    cmd.add_argument("id", help="job id")
    cmd.add_argument(
        "--text",
        action="store_true",
        help="plain text: pages separated by form feeds (none within a page)",
    )
    cmd.set_defaults(run=client.result, kind="client")

    cmd = commands.add_parser("jobs", parents=[http, as_json], help="your recent jobs")
    cmd.add_argument(
        "--status", choices=[s.value for s in JobStatus], help="only jobs with this status"
    )
    cmd.add_argument("--limit", type=int, default=20, help="how many (default 20, at most 100)")
    cmd.set_defaults(run=client.list_jobs, kind="client")

    cmd = commands.add_parser("migrate", help="apply pending schema migrations")
    cmd.set_defaults(run="migrate_cmd", kind="operator")
    cmd = commands.add_parser("verify", help="compare the live schema with the code's")
    cmd.set_defaults(run="verify_cmd", kind="operator")
    cmd = commands.add_parser("sweep", parents=[as_json], help="run the sweeper once now")
    cmd.set_defaults(run="sweep_cmd", kind="operator")

    cmd = commands.add_parser(
        "stuck", parents=[as_json], help="processing jobs whose worker went silent (exit 1 if any)"
    )
    cmd.add_argument("--limit", type=int, default=100, help="at most this many (default 100)")
    cmd.set_defaults(run="stuck_cmd", kind="operator")

    cmd = commands.add_parser(
        "requeue",
        parents=[as_json],
        help="run a failed job again: ID, or --failed --since DURATION",
        description=(
            "A failed job goes back to queued (attempts reset, error cleared) and is "
            "enqueued. Refused when its source PDF is gone: unless KEEP_SOURCE=true, a "
            "job's source is deleted when it ends."
        ),
    )
    cmd.add_argument("id", nargs="?", help="job id")
    cmd.add_argument("--failed", action="store_true", help="every job that failed recently")
    cmd.add_argument(
        "--since",
        type=parse_duration,
        metavar="DURATION",
        help="with --failed: how far back, e.g. 30m, 2h, 1d",
    )
    cmd.set_defaults(run="requeue_cmd", kind="operator")

    cmd = commands.add_parser(
        "health",
        parents=[as_json],
        help="probe Postgres and Redis, count workers and stuck jobs (exit 1 if unhealthy)",
    )
    cmd.set_defaults(run="health_cmd", kind="operator")
    return parser


def parse_duration(raw: str) -> float:
    """``90``, ``90s``, ``15m``, ``2h``, ``1d``, ``1w`` → seconds (argparse type)."""
    match = _DURATION.match(raw)
    if not match:
        raise argparse.ArgumentTypeError(f"not a duration like 30m, 2h or 1d: {raw!r}")
    return float(match.group(1)) * _UNIT_S[match.group(2)]


def _api_client(args: argparse.Namespace) -> ApiClient:
    url = args.api_url or os.environ.get("FOLIO_API_URL") or DEFAULT_API_URL
    key = args.api_key or os.environ.get("FOLIO_API_KEY")
    if not key:
        raise CliError("no API key: pass --api-key or set FOLIO_API_KEY", USAGE)
    return ApiClient(url, key)


def _run(args: argparse.Namespace) -> int:
    if args.kind == "client":
        return int(args.run(args, _api_client(args)))
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        raise CliError(str(exc), USAGE) from None
    # Library log lines (warnings only) go to stderr, keeping stdout for results.
    start_process("cli", settings, quiet=True)
    # Imported here: client commands need neither the database nor Redis libraries.
    from . import admin

    run: Callable[..., int] = getattr(admin, args.run)
    return run(args, settings)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "requeue" and bool(args.id) == bool(args.failed or args.since):
        parser.error("requeue: give a job ID, or --failed --since DURATION")
    if args.command == "requeue" and args.failed and args.since is None:
        parser.error("requeue: --failed needs --since DURATION (e.g. --since 1h)")
    try:
        code = _run(args)
        sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
        return code
    except CliError as exc:
        print(f"folio {args.command}: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (``folio result ID | head -1``): nothing to say, and the
        # interpreter's last flush of stdout must not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return CLOSED_PIPE


if __name__ == "__main__":
    sys.exit(main())
