"""``/``: the status page — upload a PDF, watch it, read its text, see the fleet.

One self-contained HTML file (``status.html`` beside this module, inline CSS and JS, no
external asset), served without a key. The page asks for an API key, keeps it in
``sessionStorage`` (gone when the tab closes) and sends it with every data call.
"""

from __future__ import annotations

from importlib import resources

import falcon

#: Only this page's own inline code, and calls back to this server.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
    "img-src 'self' data:; frame-ancestors 'none'"
)


class StatusPageResource:
    auth_exempt = True

    def __init__(self) -> None:
        self._body = resources.files(__package__).joinpath("status.html").read_bytes()

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.content_type = falcon.MEDIA_HTML
        resp.set_header("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        resp.set_header("Cache-Control", "no-cache")
        resp.data = self._body
