"""A loopback gRPC proxy in front of the real Firestore emulator that can lose answers.

Every call is forwarded as raw bytes, metadata included. ``lose_next(method, n, code)``
makes the next ``n`` calls of ``method`` reach the emulator (which acts on them) and then
answer ``code`` (DEADLINE_EXCEEDED unless told) instead of the emulator's reply: a commit
whose answer was lost. ``refuse_next(method, code, n)`` answers the next ``n`` calls with
``code`` without forwarding them. ``plan(method, steps)`` scripts a mix of both, in order.
``after_lost`` (a coroutine function) runs after a forwarded call and before its lost
answer: another writer acting in between. Streaming calls (queries, batch gets) can be
refused too, which makes reads fail. ``log`` records every call forwarded: its method, its
request and its answers as raw bytes (the request log of tests/firestore/
test_native_queries.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import grpc

from tests.backends._process import free_port

_SERVICE = "/google.firestore.v1.Firestore/"
#: Firestore's server-streaming methods; every other one is unary.
_STREAMING = {"RunQuery", "BatchGetDocuments", "RunAggregationQuery", "PartitionQuery"}


@dataclass
class Logged:
    """One forwarded call: the method, the request and the answers, serialised."""

    method: str
    request: bytes
    replies: list[bytes] = field(default_factory=list)


class LosingProxy(grpc.GenericRpcHandler):
    def __init__(self, upstream: str) -> None:
        self._upstream = upstream
        self._channel: grpc.aio.Channel | None = None
        self._server: grpc.aio.Server | None = None
        self._plans: dict[str, list[tuple[str, grpc.StatusCode]]] = {}
        self.after_lost: Callable[[], Awaitable[None]] | None = None
        self.calls: list[str] = []
        self.log: list[Logged] = []
        self.host = ""

    async def __aenter__(self) -> LosingProxy:
        self._channel = grpc.aio.insecure_channel(self._upstream)
        self._server = grpc.aio.server()
        self._server.add_generic_rpc_handlers((self,))
        port = free_port()
        self._server.add_insecure_port(f"127.0.0.1:{port}")
        await self._server.start()
        self.host = f"127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None and self._channel is not None
        await self._server.stop(None)
        await self._channel.close()

    def lose_next(
        self,
        method: str,
        count: int = 1,
        code: grpc.StatusCode = grpc.StatusCode.DEADLINE_EXCEEDED,
    ) -> None:
        """Forward the next ``count`` calls of ``method``, then answer ``code`` instead."""
        self.plan(method, [("lose", code)] * count)

    def refuse_next(self, method: str, code: grpc.StatusCode, count: int = 1) -> None:
        """Answer the next ``count`` calls of ``method`` with ``code``; the emulator never
        sees them."""
        self.plan(method, [("refuse", code)] * count)

    def plan(self, method: str, steps: list[tuple[str, grpc.StatusCode]]) -> None:
        """The next calls of ``method``: ``("lose", code)`` or ``("refuse", code)`` each."""
        self._plans[method] = list(steps)

    def _next_step(self, name: str) -> tuple[str, grpc.StatusCode] | None:
        steps = self._plans.get(name)
        return steps.pop(0) if steps else None

    def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        full: str = details.method  # type: ignore[attr-defined]
        if not full.startswith(_SERVICE):
            return None
        name = full.removeprefix(_SERVICE)
        if name in _STREAMING:
            return grpc.unary_stream_rpc_method_handler(self._streaming(full, name))
        return grpc.unary_unary_rpc_method_handler(self._unary(full, name))

    def _unary(self, full: str, name: str) -> Any:
        async def forward(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
            assert self._channel is not None
            self.calls.append(name)
            step = self._next_step(name)
            if step is not None and step[0] == "refuse":
                await context.abort(step[1], "refused (injected)")
            call = self._channel.unary_unary(full)
            logged = Logged(name, request)
            self.log.append(logged)
            try:
                reply: bytes = await call(request, metadata=context.invocation_metadata())
            except grpc.aio.AioRpcError as exc:
                await context.abort(exc.code(), exc.details() or "")
            logged.replies.append(reply)
            if step is not None:
                if self.after_lost is not None:
                    await self.after_lost()
                await context.abort(step[1], "answer lost (injected)")
            return reply

        return forward

    def _streaming(self, full: str, name: str) -> Any:
        async def forward(
            request: bytes, context: grpc.aio.ServicerContext
        ) -> AsyncIterator[bytes]:
            assert self._channel is not None
            self.calls.append(name)
            step = self._next_step(name)
            if step is not None:
                await context.abort(step[1], "refused (injected)")
            call = self._channel.unary_stream(full)
            logged = Logged(name, request)
            self.log.append(logged)
            async for message in call(request, metadata=context.invocation_metadata()):
                logged.replies.append(message)
                yield message

        return forward
