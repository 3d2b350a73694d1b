"""``RequestShapeMiddleware``: refuses, before any route runs, a request whose path is
not valid UTF-8 once percent-decoded (400) and a body that is not sent as JSON (415).

The ASGI server decodes the path with replacement characters, so ``/v1/c/%FF`` and
``/v1/c/%FE`` would both become ``/v1/c/\\ufffd``: two URLs aliasing one document. The raw
path is checked instead.
"""

from __future__ import annotations

from typing import Final
from urllib.parse import unquote_to_bytes

from starlette.types import ASGIApp, Receive, Scope, Send

from asyncdb.server._asgi import HttpMiddleware, send_error

__all__ = ["RequestShapeMiddleware"]

_BODY_METHODS: Final = frozenset({"PUT", "POST", "PATCH"})


class RequestShapeMiddleware(HttpMiddleware):
    """Pure ASGI middleware: 400 for a path that is not UTF-8, 415 for a non-JSON body."""

    def __init__(self, app: ASGIApp, *, json_prefix: str = "/v1/") -> None:
        super().__init__(app)
        self._json_prefix = json_prefix

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw = scope.get("raw_path")
        if isinstance(raw, bytes):
            # Some clients' raw_path carries the query string: only the path counts here.
            try:
                unquote_to_bytes(raw.partition(b"?")[0]).decode("utf-8")
            except UnicodeDecodeError:
                await send_error(
                    send,
                    400,
                    "BadRequest",
                    "the path is not valid UTF-8 once percent-decoded "
                    "(percent-encode the UTF-8 bytes of each character)",
                )
                return
        if (
            scope.get("method") in _BODY_METHODS
            and str(scope.get("path", "")).startswith(self._json_prefix)
            and not _is_json(scope)
        ):
            await send_error(
                send,
                415,
                "UnsupportedMediaType",
                "the request body must be JSON, sent with Content-Type: application/json",
            )
            return
        await self.app(scope, receive, send)


def _is_json(scope: Scope) -> bool:
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            media_type: bytes = value.split(b";", 1)[0].strip().lower()
            return media_type == b"application/json" or (
                media_type.startswith(b"application/") and media_type.endswith(b"+json")
            )
    return False
