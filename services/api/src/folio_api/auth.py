"""Bearer API keys: who is calling, and therefore whose jobs they may see.

Keys come from ``API_KEYS`` (``name:key``); the name becomes the owner of the jobs a key
submits, and every job query is filtered by it, so another tenant's job is a plain 404.
The presented key is compared with *every* configured key in constant time, so neither
the comparison nor the loop leaks how close a guess was.
"""

from __future__ import annotations

import hmac
from typing import Any

import falcon
from folio_common.logs import get_logger
from folio_common.settings import Settings

from folio_api.errors import UNAUTHORIZED, Problem

log = get_logger("folio.api.auth")

#: Accepted when no API_KEYS are configured outside production, for a first local run;
#: gunicorn then binds 127.0.0.1 only (``Settings.dev_key_fallback`` decides both).
DEV_KEY = "folio-dev-key"
#: The owner of jobs submitted with :data:`DEV_KEY`.
DEV_OWNER = "local"


def configured_keys(settings: Settings) -> dict[str, str]:
    """{key: owner}: ``API_KEYS``, or the documented local default key in development."""
    if settings.api_keys:
        return dict(settings.api_keys)
    if settings.dev_key_fallback:
        log.warning(
            "no API_KEYS configured: accepting the published development key, so the API "
            "listens on 127.0.0.1 only",
            key_name=DEV_OWNER,
            hint=f"send 'Authorization: Bearer {DEV_KEY}'; set API_KEYS to listen on all "
            "interfaces",
        )
        return {DEV_KEY: DEV_OWNER}
    return {}


def owner_for(keys: dict[str, str], presented: str) -> str | None:
    """The owner of ``presented``, comparing against every key in constant time."""
    found: str | None = None
    candidate = presented.encode()
    for key, owner in keys.items():
        if hmac.compare_digest(candidate, key.encode()):
            found = owner
    return found


class Authenticator:
    """Middleware: set ``req.context.owner`` or answer 401 with ``WWW-Authenticate``.

    Resources with a true ``auth_exempt`` attribute (health, docs) are open.
    """

    def __init__(self, settings: Settings) -> None:
        self._keys = configured_keys(settings)

    @property
    def keys(self) -> dict[str, str]:
        """{key: owner} in force (for resources that check credentials themselves)."""
        return dict(self._keys)

    def process_resource(
        self, req: falcon.Request, resp: falcon.Response, resource: Any, params: dict[str, Any]
    ) -> None:
        if resource is None or getattr(resource, "auth_exempt", False):
            return
        scheme, _, token = (req.get_header("Authorization") or "").partition(" ")
        owner = owner_for(self._keys, token.strip()) if scheme.lower() == "bearer" else None
        if owner is None:
            raise Problem(
                falcon.HTTP_401,
                UNAUTHORIZED,
                "send a valid API key as 'Authorization: Bearer <key>'",
                headers={"WWW-Authenticate": 'Bearer realm="folio"'},
            )
        req.context.owner = owner
