"""What the server's pure ASGI middleware share: answering with the JSON error shape
before the application runs."""

from __future__ import annotations

import json
from collections.abc import Sequence

from starlette.types import Send

from asyncdb.fastapi import error_body

__all__ = ["send_error"]


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
