"""``/api/v1/openapi.json`` and ``/api/v1/docs``: the API describing itself.

The docs page is one self-contained HTML file (no CDN, no external script or style): it
fetches ``openapi.json`` from the same server and renders every operation, so it works
offline and behind a strict Content-Security-Policy.
"""

from __future__ import annotations

import json
from importlib import resources

import falcon

from folio_api import openapi


class OpenAPIResource:
    """The OpenAPI 3.1 document, serialized once."""

    auth_exempt = True

    def __init__(self) -> None:
        self._body = json.dumps(openapi.document(), indent=1).encode()

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.content_type = falcon.MEDIA_JSON
        resp.data = self._body


class DocsResource:
    """The HTML reference page (``docs.html`` beside this module)."""

    auth_exempt = True

    def __init__(self) -> None:
        self._body = resources.files(__package__).joinpath("docs.html").read_bytes()

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.content_type = falcon.MEDIA_HTML
        resp.set_header(
            "Content-Security-Policy",
            "default-src 'self'; style-src 'unsafe-inline'; script-src 'unsafe-inline'",
        )
        resp.data = self._body
