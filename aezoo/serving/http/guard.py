"""Optional API key: ``Authorization: Bearer KEY`` on every route but the health checks and
the gallery page's own static files (``/`` and ``/ui/*``: the same for every server, no
model data; a browser cannot add a header to a page load). The page then asks for the key
once, keeps it in ``sessionStorage`` (until the tab closes) and sends it on every API call.

Pure ASGI middleware (no per-request objects on the exempt paths). The key is compared
with :func:`hmac.compare_digest` (constant time: the answer's timing says nothing about
how much of a guess was right). A missing or wrong key gets 401 with
``WWW-Authenticate: Bearer`` and the uniform error body.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable
from typing import Any

from aezoo.serving.http.protocol import HEALTH_PREFIXES

ASGIApp = Callable[..., Any]
PUBLIC_PREFIXES = (*HEALTH_PREFIXES, "/ui/")  # and "/" itself: the gallery page


class ApiKeyMiddleware:
    """Refuse requests without ``Authorization: Bearer <key>``.

    Args:
        app: the wrapped ASGI app.
        key: the expected key.
        on_reject: called once per refused request (metrics).
    """

    def __init__(self, app: ASGIApp, key: str, on_reject: Callable[[], None] | None = None) -> None:
        self.app = app
        self._expected = b"Bearer " + key.encode()
        self._on_reject = on_reject or (lambda: None)

    async def __call__(self, scope: dict[str, Any], receive: ASGIApp, send: ASGIApp) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path.startswith(PUBLIC_PREFIXES) or path == "/":
            await self.app(scope, receive, send)
            return
        given = next((v for k, v in scope["headers"] if k == b"authorization"), b"")
        if hmac.compare_digest(given, self._expected):
            await self.app(scope, receive, send)
            return
        self._on_reject()
        why = "wrong API key" if given else "missing API key"
        body = json.dumps(
            {
                "error": {
                    "type": "unauthorized",
                    "message": f"{why}: send the header 'Authorization: Bearer <key>' "
                    "(the key the server was started with, --api-key or AEZOO_API_KEY)",
                }
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"www-authenticate", b'Bearer realm="aezoo"'),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
