"""Redis clients from ``REDIS_URL``, with TLS negotiated the same way everywhere.

The Dramatiq broker is built from a client made here (see :mod:`.broker`): RedisBroker
silently ignores connection keyword arguments once it is given a URL, so passing the
client is the only way its TLS settings cannot differ from the API's.
"""

from __future__ import annotations

from typing import Any

import redis
from redis.backoff import ExponentialWithJitterBackoff
from redis.retry import Retry

from .settings import Settings

#: Seconds between PINGs on a connection idle in the pool: drops are found before use.
HEALTH_CHECK_INTERVAL_S = 30
#: Retries of one command on a dropped connection or timeout, with jittered backoff.
COMMAND_RETRIES = 2


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
