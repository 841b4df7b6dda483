"""gunicorn's settings, derived from Folio's (``-c python:folio_api.gunicorn_config``).

gthread workers: each request holds a thread, not a process, so one pool per process
serves ``WEB_THREADS`` concurrent requests. No ``preload_app``: the app (its engine pool,
its Redis connections) is built in each worker after the fork, so no socket is shared.
gunicorn's own loggers go through Folio's JSON renderer; its access log is off
(:class:`NoAccessLog`) because the app's middleware writes the access line, with the route
template and request id.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import tempfile
from typing import Any

from folio_common import timings
from folio_common.logs import logging_config
from folio_common.settings import load_settings
from gunicorn import glogging

_settings = load_settings()

#: prometheus-client's multiprocess mode: every gunicorn worker writes its metrics to
#: files here and /api/v1/metrics sums them. Set before the workers fork (they inherit
#: it); a fresh directory per start unless the operator names one.
_METRICS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"
_metrics_dir_created = not os.environ.get(_METRICS_DIR_ENV)
if _metrics_dir_created:
    os.environ[_METRICS_DIR_ENV] = tempfile.mkdtemp(prefix="folio-metrics-")


def _bind(port: int) -> list[str]:
    """``[::]`` (dual-stack where the kernel allows) plus ``0.0.0.0`` when IPv6 is v6-only
    or unavailable: Railway's private network is IPv6, its public proxy IPv4."""
    if not socket.has_ipv6:
        return [f"0.0.0.0:{port}"]
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::", 0))
            v6_only = sock.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY) != 0
    except OSError:
        return [f"0.0.0.0:{port}"]
    return [f"[::]:{port}", f"0.0.0.0:{port}"] if v6_only else [f"[::]:{port}"]


class NoAccessLog(glogging.Logger):  # type: ignore[misc]
    """gunicorn's logger without its access line. With ``logconfig_dict`` set, gunicorn
    builds that line's atoms for every request even when its access logger drops it (3 %
    of an upload's CPU, sampled under the peer's ingest)."""

    @property
    def access_log_enabled(self) -> bool:
        return False


#: With no API_KEYS the API accepts the published development key (folio_api.auth), so it
#: listens on loopback only: never reachable from the LAN with a key anyone can read.
bind = [f"127.0.0.1:{_settings.port}"] if _settings.dev_key_fallback else _bind(_settings.port)
workers = _settings.web_concurrency
#: Each worker listens on a socket of its own (SO_REUSEPORT), so the kernel spreads new
#: connections over the workers. On one shared socket, whichever worker wakes first
#: accepts, and long-lived keep-alive clients could all land on one worker while the
#: other idled (measured: 16 clients, 368 uploads/s on one worker, 559 when spread).
reuse_port = True
threads = _settings.web_threads
#: gthread whose main loop reads request heads under HEADER_TIMEOUT_S (slow clients).
worker_class = "folio_api.head_worker.HeadFirstWorker"
#: No control socket: Folio does not use gunicornc, and its default path is shared by
#: every gunicorn instance on a host (one would take over another's).
control_socket_disable = True
#: Seconds a stopping worker lets in-flight requests finish: a whole long-poll and its
#: answer (Railway's draining for the API is derived from the same, folio_common.timings).
graceful_timeout = timings.graceful_timeout_s(_settings.max_wait_s)
#: A worker whose main loop is silent this long is killed. gthread's loop keeps beating
#: while request threads (long-polls included) run, so this does not cap request time.
timeout = 60
keepalive = 5
# The heartbeat file on tmpfs: a container's overlay filesystem can stall it.
_SHM = "/dev/shm"  # noqa: S108 - gunicorn's own heartbeat files, not ours
worker_tmp_dir = _SHM if os.path.isdir(_SHM) else None
logconfig_dict = logging_config("api", _settings.log_level, _settings.log_format)
logger_class = NoAccessLog
accesslog = None
proc_name = "folio-api"


def on_starting(server: Any) -> None:
    """A named metrics directory may hold the files of a previous run: start from zero."""
    directory = os.environ[_METRICS_DIR_ENV]
    os.makedirs(directory, exist_ok=True)
    for name in os.listdir(directory):
        if name.endswith(".db"):
            os.unlink(os.path.join(directory, name))


def child_exit(server: Any, worker: Any) -> None:
    """A worker exited: drop its live gauges (pool figures) from the sums."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]


def on_exit(server: Any) -> None:
    if _metrics_dir_created:
        shutil.rmtree(os.environ[_METRICS_DIR_ENV], ignore_errors=True)


def when_ready(server: Any) -> None:
    """Once, in the master: warn about pool sizes that will queue requests for connections."""
    # structlog is configured in the workers only; the master logs through the stdlib,
    # which logconfig_dict routed through the same JSON renderer (extras become keys).
    log = logging.getLogger("folio.api")
    sizes = {
        "db_pool_size": _settings.db_pool_size,
        "db_max_overflow": _settings.db_max_overflow,
        "web_threads": _settings.web_threads,
    }
    pool = _settings.db_pool_size + _settings.db_max_overflow
    if pool < _settings.web_threads:
        log.warning(
            "fewer database connections than threads per process: requests will wait for "
            "connections and answer 503 after DB_POOL_TIMEOUT under load",
            extra=sizes,
        )
    elif _settings.db_pool_size < _settings.web_threads:
        # QueuePool closes an overflow connection when it is returned: under load every
        # request beyond DB_POOL_SIZE connects anew (measured: 200 connections per 3,000
        # uploads, about 15 % more CPU per upload than DB_POOL_SIZE = WEB_THREADS).
        log.warning(
            "DB_POOL_SIZE is below WEB_THREADS: under load, connections beyond the pool are "
            "opened and closed per request; set DB_POOL_SIZE to WEB_THREADS",
            extra=sizes,
        )
    log.info(
        "folio api ready",
        extra={
            "bind": bind,
            "workers": workers,
            "threads": threads,
            "connections_per_process": pool,
        },
    )
