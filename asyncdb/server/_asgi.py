"""What the server's pure ASGI middleware share: looking at HTTP requests only, and
answering with the JSON error shape before the application runs."""

from __future__ import annotations

import json
from collections.abc import Sequence

from starlette.types import ASGIApp, Receive, Scope, Send

from asyncdb.fastapi import error_body

__all__ = ["HttpMiddleware", "send_error"]


class HttpMiddleware:
    """A pure ASGI middleware that checks HTTP requests (``http``); every other scope
    (lifespan, websocket) goes to the app untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.http(scope, receive, send)

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one HTTP request: answer it, or pass it on to ``self.app``."""
        raise NotImplementedError


async def send_error(
    send: Send,
    status: int,
    error_type: str,
    message: str,
    *,
    headers: Sequence[tuple[bytes, bytes]] = (),
) -> None:
    """Answer ``status`` with the JSON error body (``asyncdb.fastapi.error_body``) and any
    extra ``headers``."""
    body = json.dumps(error_body(status, error_type, message)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
