"""``BearerTokenMiddleware``: every HTTP request must carry ``Authorization: Bearer <token>``.

The comparison is constant-time (``hmac.compare_digest``); a missing or wrong token gets
401 with ``WWW-Authenticate: Bearer`` and the JSON error shape, and nothing else runs.
Only the public paths (the ``/docs`` page, its files and ``/openapi.json``: what a
browser loads without sending a token) pass without one; they hold no data.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Sequence

from starlette.types import ASGIApp, Receive, Scope, Send

from asyncdb.server._asgi import send_error

__all__ = ["BearerTokenMiddleware"]

logger = logging.getLogger("asyncdb")


class BearerTokenMiddleware:
    """Pure ASGI middleware: checks the bearer token before the app sees the request."""

    def __init__(
        self,
        app: ASGIApp,
        token: str,
        *,
        public_paths: Sequence[str] = (),
        public_prefixes: Sequence[str] = (),
    ) -> None:
        self.app = app
        self._expected = token.encode("utf-8")
        self._public_paths = frozenset(public_paths)
        self._public_prefixes = tuple(public_prefixes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        if self._authorised(scope) or self._public(scope):
            await self.app(scope, receive, send)
            return
        logger.info("refused an unauthenticated %s request", scope.get("method", "websocket"))
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        await send_error(
            send,
            401,
            "Unauthorized",
            "a valid 'Authorization: Bearer <token>' is required",
            headers=[(b"www-authenticate", b'Bearer realm="asyncdb"')],
        )

    def _public(self, scope: Scope) -> bool:
        if scope["type"] != "http" or scope.get("method") not in ("GET", "HEAD"):
            return False
        path = str(scope.get("path", ""))
        return path in self._public_paths or path.startswith(self._public_prefixes)

    def _authorised(self, scope: Scope) -> bool:
        provided = b""
        for name, value in scope.get("headers", ()):
            if name == b"authorization":
                scheme, _, credentials = value.partition(b" ")
                if scheme.lower() == b"bearer":
                    provided = credentials.strip()
                break
        # compare_digest takes as long for any wrong token of a given length.
        return hmac.compare_digest(provided, self._expected)
