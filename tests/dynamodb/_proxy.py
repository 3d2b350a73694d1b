"""A loopback HTTP proxy in front of the real emulator, for fault injection and counting.

Every request passes through ``handler(operation, payload, forward)``; the default just
forwards. A test swaps in a handler that answers with an error (throttling, auth), or
forwards a reduced request and reports the rest as unprocessed, exactly as DynamoDB may.
A handler that raises ``DropAnswer`` closes the connection without any answer: raised
after ``forward``, the server has acted and the client never hears of it; together with
``proxy.later(delay, forward(payload))`` the request reaches the server only after the
client has given up on it (a stall, then a late delivery). ``calls`` lists the operation
of every request, in order, and ``requests`` each one's operation and payload.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import aiohttp
from aiohttp import web

from tests.backends._process import free_port

Reply = tuple[int, dict[str, Any]]
Forward = Callable[[dict[str, Any]], Awaitable[Reply]]
Handler = Callable[[str, dict[str, Any], Forward], Awaitable[Reply]]

CONTENT_TYPE = "application/x-amz-json-1.0"


class DropAnswer(Exception):
    """Raised by a handler: the client's connection is closed without an answer."""


def error_reply(code: str, message: str, status: int = 400) -> Reply:
    """A DynamoDB-shaped JSON error."""
    return status, {"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": message}


def reads_a_document(operation: str, payload: dict[str, Any]) -> bool:
    """A GetItem of a document (not the read of the table's index registry that a
    driver's first write makes, ``asyncdb/drivers/dynamodb/_registry.py``)."""
    key = payload.get("Key", {}).get("_id", {}).get("S", "")
    return operation == "GetItem" and not key.startswith("\x01asyncdb:")


async def passthrough(operation: str, payload: dict[str, Any], forward: Forward) -> Reply:
    return await forward(payload)


class FaultProxy:
    """``async with FaultProxy(upstream) as proxy``: ``proxy.url`` is the endpoint to use."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.calls: list[str] = []
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.handler: Handler = passthrough
        self.url = ""
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._late: set[asyncio.Task[Any]] = set()

    def count(self, operation: str) -> int:
        return self.calls.count(operation)

    async def __aenter__(self) -> FaultProxy:
        self._session = aiohttp.ClientSession()
        app = web.Application()
        app.router.add_route("POST", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        port = free_port()
        await web.TCPSite(self._runner, "127.0.0.1", port).start()
        self.url = f"http://127.0.0.1:{port}"
        return self

    def later(self, delay: float, delivery: Coroutine[Any, Any, Reply]) -> None:
        """Run ``delivery`` (a ``forward(...)``) after ``delay`` seconds, in the background."""

        async def deliver() -> None:
            await asyncio.sleep(delay)
            await delivery

        task = asyncio.get_running_loop().create_task(deliver())
        self._late.add(task)
        task.add_done_callback(self._late.discard)

    async def settle(self) -> None:
        """Wait until every late delivery has reached the server."""
        while self._late:
            await asyncio.gather(*self._late)

    async def __aexit__(self, *exc_info: object) -> None:
        await self.settle()
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    async def _handle(self, request: web.Request) -> web.Response:
        target = request.headers.get("X-Amz-Target", "")
        operation = target.rpartition(".")[2]
        self.calls.append(operation)
        payload = json.loads(await request.read() or b"{}")
        self.requests.append((operation, payload))
        headers = {
            name: value
            for name, value in request.headers.items()
            if name.lower() not in {"host", "content-length"}
        }

        async def forward(body: dict[str, Any]) -> Reply:
            assert self._session is not None
            async with self._session.post(
                self.upstream + "/", data=json.dumps(body).encode(), headers=headers
            ) as response:
                return response.status, json.loads(await response.read() or b"{}")

        try:
            status, body = await self.handler(operation, payload, forward)
        except DropAnswer:
            if request.transport is not None:
                request.transport.close()
            return web.Response(status=500)  # never reaches the closed connection
        return web.Response(
            status=status, body=json.dumps(body).encode(), content_type=CONTENT_TYPE
        )
