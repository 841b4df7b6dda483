"""Redis clients from ``REDIS_URL``, with TLS negotiated the same way everywhere.

The Dramatiq broker is built from a client made here (see :mod:`.broker`): RedisBroker
silently ignores connection keyword arguments once it is given a URL, so passing the
client is the only way its TLS settings cannot differ from the API's.
"""

from __future__ import annotations

import os
import socket
import ssl
from typing import Any
from urllib.parse import urlsplit

import redis
from redis.backoff import ExponentialWithJitterBackoff
from redis.retry import Retry

from .settings import Settings

#: Seconds between PINGs on a connection idle in the pool: drops are found before use.
HEALTH_CHECK_INTERVAL_S = 30
#: Retries of one command on a dropped connection or timeout, with jittered backoff.
COMMAND_RETRIES = 2
#: Seconds the start-up probe gives a plain-text PING to be answered (a TLS port answers
#: none: it waits for a handshake, which is why a TLS client against a plain port times
#: out instead of failing).
PLAIN_PROBE_TIMEOUT_S = 1.5


class RedisMisconfigured(RuntimeError):
    """A Redis setting no retry can fix (a TLS file, the CA, TLS against a plain port).

    ``str()`` is one line naming the setting (and the file) and what to change.
    """

    def __init__(self, setting: str, problem: str) -> None:
        super().__init__(f"{setting}: {problem}")
        self.setting = setting


def redis_url(settings: Settings) -> str:
    """``REDIS_URL`` with ``rediss://`` when ``REDIS_TLS`` asks for TLS."""
    url = settings.redis_url
    if settings.redis_tls and url.startswith("redis://"):
        url = "rediss://" + url.removeprefix("redis://")
    return url


def tls_options(settings: Settings) -> dict[str, Any]:
    """redis-py's ``ssl_*`` arguments from the settings (empty for plain TCP)."""
    if not redis_url(settings).startswith("rediss://"):
        return {}
    options: dict[str, Any] = {"ssl_cert_reqs": settings.redis_tls_cert_reqs}
    if settings.redis_tls_cert_reqs == "none":
        options["ssl_check_hostname"] = False
    if settings.redis_tls_ca_file:
        options["ssl_ca_certs"] = settings.redis_tls_ca_file
    if settings.redis_tls_cert_file:
        options["ssl_certfile"] = settings.redis_tls_cert_file
    if settings.redis_tls_key_file:
        options["ssl_keyfile"] = settings.redis_tls_key_file
    return options


def create_redis(
    settings: Settings, *, socket_timeout: float | None = 5.0, **overrides: Any
) -> redis.Redis:
    """A client for ``REDIS_URL`` with TLS, timeouts, keepalive and bounded retries.

    Parameters:
      socket_timeout: seconds a command may wait for its reply; ``None`` for blocking reads
        (pub/sub waits) that must outlive it.
      overrides: any other :class:`redis.Redis` argument.
    """
    options: dict[str, Any] = {
        "socket_timeout": socket_timeout,
        "socket_connect_timeout": 5.0,
        "socket_keepalive": True,
        "health_check_interval": HEALTH_CHECK_INTERVAL_S,
        "retry": Retry(ExponentialWithJitterBackoff(base=0.05, cap=0.5), COMMAND_RETRIES),
        "client_name": "folio",
        **tls_options(settings),
        **overrides,
    }
    return redis.Redis.from_url(redis_url(settings), **options)


def key(settings: Settings, *parts: str) -> str:
    """A namespaced Redis key: ``<REDIS_NAMESPACE>:part:part``."""
    return ":".join((settings.redis_namespace, *parts))


def _tls_files(settings: Settings) -> dict[str, str]:
    return {
        "REDIS_TLS_CA_FILE": settings.redis_tls_ca_file,
        "REDIS_TLS_CERT_FILE": settings.redis_tls_cert_file,
        "REDIS_TLS_KEY_FILE": settings.redis_tls_key_file,
    }


def _answers_plain_redis(host: str, port: int) -> bool:
    """True when ``host:port`` replies to a plain-text PING (so it is not a TLS port)."""
    try:
        with socket.create_connection((host, port), timeout=PLAIN_PROBE_TIMEOUT_S) as sock:
            sock.sendall(b"PING\r\n")
            reply = sock.recv(16)
    except OSError:
        return False  # unreachable or silent: a connection problem, for the retries
    return reply[:1] in (b"+", b"-")  # +PONG, -NOAUTH, -ERR: a RESP reply, in clear


def check_tls(settings: Settings) -> None:
    """Raise :class:`RedisMisconfigured` for a TLS setup that cannot work, before connecting.

    A named file that is not there, or a TLS URL whose port answers plain Redis; an
    unreachable server is not this function's business (the start-up wait retries it).
    """
    if not redis_url(settings).startswith("rediss://"):
        return
    for setting, path in _tls_files(settings).items():
        if path and not os.access(path, os.R_OK):
            raise RedisMisconfigured(setting, f"{path} does not exist or cannot be read")
    parts = urlsplit(redis_url(settings))
    if parts.hostname and _answers_plain_redis(parts.hostname, parts.port or 6379):
        raise RedisMisconfigured(
            "REDIS_URL",
            f"TLS is asked for (rediss:// or REDIS_TLS=true) but {parts.hostname}:"
            f"{parts.port or 6379} answers plain Redis; use redis:// (Railway's private "
            "network is already encrypted) or the server's TLS port",
        )


def misconfiguration(exc: BaseException, settings: Settings) -> RedisMisconfigured | None:
    """The setting behind a connection error no retry can fix, or None (a transient one)."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError) or (
            "CERTIFICATE_VERIFY_FAILED" in str(cause)
        ):
            ca = settings.redis_tls_ca_file or "the system's CA bundle"
            return RedisMisconfigured(
                "REDIS_TLS_CA_FILE",
                f"the Redis server's certificate does not verify against {ca} "
                "(CERTIFICATE_VERIFY_FAILED); point it at the CA that signed the server",
            )
        cause = cause.__cause__ or cause.__context__
    return None


def ping(client: redis.Redis, settings: Settings) -> None:
    """PING at start-up: a misconfiguration raises :class:`RedisMisconfigured` at once,
    anything else (refused, timed out, loading) is raised as is, for the retries."""
    check_tls(settings)
    try:
        client.ping()
    except redis.RedisError as exc:
        found = misconfiguration(exc, settings)
        if found is None:
            raise
        raise found from exc
