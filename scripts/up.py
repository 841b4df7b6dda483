"""``make up``: Folio on a laptop, in the foreground — migrate, then the API and a worker.

Defaults point at a local PostgreSQL and Redis (override ``DATABASE_URL``, ``REDIS_URL``,
``PORT``). The database is created if it does not exist yet. Ctrl-C (or SIGTERM) stops
both processes gracefully; if either exits on its own, the other is stopped and this
script exits non-zero.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DEFAULTS = {
    "PORT": "8000",
    "DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/folio",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "LOG_FORMAT": "console",
}
#: Seconds the children get to stop before they are killed (the worker finishes parts).
STOP_TIMEOUT_S = 75


def say(message: str) -> None:
    print(f"[folio up] {message}", file=sys.stderr, flush=True)


def ensure_database(url: str) -> None:
    """Create the database named in ``url`` when it is missing (connecting to ``postgres``)."""
    target = make_url(url).set(drivername="postgresql+psycopg2")
    name = target.database
    admin = create_engine(
        target.set(database="postgres"),
        isolation_level="AUTOCOMMIT",
        connect_args={"connect_timeout": 5},
    )
    try:
        with admin.connect() as conn:
            exists = conn.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            ).first()
            if exists is None:
                quoted = conn.dialect.identifier_preparer.quote(str(name))
                conn.execute(text(f"CREATE DATABASE {quoted}"))
                say(f"created database {name}")
    except SQLAlchemyError as exc:
        say(f"could not check or create database {name}: {type(exc).__name__} (continuing)")
    finally:
        admin.dispose()


def start(name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    say(f"starting {name}: {' '.join(argv[1:])}")
    # Own session: a terminal's Ctrl-C reaches only us, and we stop the children in order.
    return subprocess.Popen(argv, env=env, cwd=ROOT, start_new_session=True)


def stop_all(children: dict[str, subprocess.Popen[bytes]]) -> None:
    for proc in children.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    for name, proc in children.items():
        try:
            proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            say(f"{name} did not stop in {STOP_TIMEOUT_S}s; killing it")
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def main() -> int:
    env = {**os.environ}
    for name, value in DEFAULTS.items():
        env.setdefault(name, value)
    ensure_database(env["DATABASE_URL"])
    migrate = subprocess.run([str(BIN / "folio-migrate"), "apply"], env=env, cwd=ROOT, check=False)
    if migrate.returncode != 0:
        say("migrations failed; not starting")
        return migrate.returncode

    stopping: list[int] = []

    def on_signal(signum: int, _: FrameType | None) -> None:
        stopping.append(signum)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    children = {
        "api": start("api", [str(BIN / "folio-api"), "serve"], env),
        "worker": start("worker", [str(BIN / "folio-worker"), "run"], env),
    }
    say(f"API on http://127.0.0.1:{env['PORT']}/api/v1/docs — Ctrl-C stops both")
    crashed: str | None = None
    while not stopping and crashed is None:
        crashed = next((n for n, p in children.items() if p.poll() is not None), None)
        time.sleep(0.2)
    if crashed is not None:
        say(f"{crashed} exited with {children[crashed].returncode}; stopping the rest")
    else:
        say("stopping")
    stop_all(children)
    if crashed is not None:
        return children[crashed].returncode or 1
    failed = {n: p.returncode for n, p in children.items() if p.returncode not in (0, None)}
    if failed:
        say(f"exit codes: {failed}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
