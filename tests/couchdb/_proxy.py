"""A loopback HTTP proxy in front of the real server: counts and records requests, and
injects faults (error statuses, dropped connections, replies lost after the server acted)
into the next N of them. ``couchdb35`` makes it answer conditional writes on ids the
server never held the way Apache CouchDB 3.5 does (``_phantoms``); ``bulk_answer``
rewrites the rows of ``_bulk_docs`` answers (reordered, missing or extra rows)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web
from yarl import URL

from tests.backends._process import free_port
from tests.couchdb import _phantoms

_HOP_HEADERS = {"host", "content-length", "transfer-encoding", "connection", "keep-alive"}


@dataclass
class Seen:
    method: str
    raw_path: str  # exactly as it arrived, still percent-encoded
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class FaultProxy:
    upstream: str
    seen: list[Seen] = field(default_factory=list)
    fail_status: int = 503
    fail_remaining: int = 0
    drop_remaining: int = 0
    lose_remaining: int = 0
    #: Lose only the replies to requests of this method (``None``: any request).
    lose_method: str | None = None
    #: Lose only the replies to requests whose path ends with this (``None``: any).
    lose_path: str | None = None
    #: After a lost reply, cut off this many of the following requests.
    drop_after_lose: int = 0
    #: Fixed answers (status, JSON) by path, instead of the server's.
    canned: dict[str, tuple[int, Any]] = field(default_factory=dict)
    #: Called with each request as it arrives, before any fault: tests set faults from it.
    before: Callable[[Seen], None] | None = None
    #: Awaited with the request whose reply was just lost, before the connection drops:
    #: tests let another writer act between a lost attempt and its retry.
    after_lose: Callable[[Seen], Awaitable[None]] | None = None
    couchdb35: bool = False
    bulk_answer: Callable[[list[Any]], list[Any]] | None = None
    url: str = ""
    _runner: web.AppRunner | None = None
    _client: aiohttp.ClientSession | None = None

    async def start(self) -> str:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        port = free_port()
        await web.TCPSite(self._runner, "127.0.0.1", port).start()
        self._client = aiohttp.ClientSession(auto_decompress=False)
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        if self._client is not None:
            await self._client.close()
        if self._runner is not None:
            await self._runner.cleanup()

    def fail_next(self, count: int, status: int = 503) -> None:
        self.fail_remaining, self.fail_status = count, status

    def drop_next(self, count: int) -> None:
        self.drop_remaining = count

    def lose_reply_next(self, count: int) -> None:
        """Forward the next ``count`` requests, then drop the connection instead of
        answering: the server has acted, the client cannot know."""
        self.lose_remaining = count

    def reset(self) -> None:
        self.seen.clear()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.seen.append(Seen(request.method, request.raw_path, body, dict(request.headers)))
        if self.before is not None:
            self.before(self.seen[-1])
        if self.drop_remaining:
            self.drop_remaining -= 1
            assert request.transport is not None
            request.transport.close()  # the client sees the connection reset mid-request
            return web.Response(status=500)
        if self.fail_remaining:
            self.fail_remaining -= 1
            return web.json_response(
                {"error": "unavailable", "reason": "injected"}, status=self.fail_status
            )
        assert self._client is not None
        if request.path in self.canned:
            status, answer = self.canned[request.path]
            return web.json_response(answer, status=status)
        if self.couchdb35:
            upstream_base = self.upstream.rstrip("/")
            special = await _phantoms.answer(
                self._client,
                upstream_base,
                request.method,
                request.raw_path,
                body,
                request.headers.get("Authorization"),
            )
            if special is not None:
                return web.json_response(special[1], status=special[0])
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_HEADERS}
        target = URL(self.upstream.rstrip("/") + request.raw_path, encoded=True)
        async with self._client.request(
            request.method, target, headers=headers, data=body or None, allow_redirects=False
        ) as upstream:
            payload = await upstream.read()
            if (
                self.lose_remaining
                and self.lose_method in (None, request.method)
                and request.path.endswith(self.lose_path or "")
            ):
                self.lose_remaining -= 1
                self.drop_remaining, self.drop_after_lose = self.drop_after_lose, 0
                if self.after_lose is not None:
                    await self.after_lose(self.seen[-1])
                assert request.transport is not None
                request.transport.close()
                return web.Response(status=500)
            out_headers = {
                k: v for k, v in upstream.headers.items() if k.lower() not in _HOP_HEADERS
            }
            if self.bulk_answer is not None and request.path.endswith("/_bulk_docs"):
                payload = json.dumps(self.bulk_answer(json.loads(payload))).encode()
            return web.Response(status=upstream.status, body=payload, headers=out_headers)
