"""A loopback gRPC proxy in front of the real Firestore emulator that can lose answers.

Every call is forwarded as raw bytes, metadata included. ``lose_next(method, n)`` makes
the next ``n`` calls of ``method`` reach the emulator (which acts on them) and then answer
DEADLINE_EXCEEDED instead of the emulator's reply: a commit whose answer was lost.
``refuse_next(method, code)`` answers the next call with ``code`` without forwarding it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc

from tests.servers._process import free_port

_SERVICE = "/google.firestore.v1.Firestore/"
#: Firestore's server-streaming methods; every other one is unary.
_STREAMING = {"RunQuery", "BatchGetDocuments", "RunAggregationQuery", "PartitionQuery"}


class LosingProxy(grpc.GenericRpcHandler):
    def __init__(self, upstream: str) -> None:
        self._upstream = upstream
        self._channel: grpc.aio.Channel | None = None
        self._server: grpc.aio.Server | None = None
        self._lose: dict[str, int] = {}
        self._refuse: dict[str, grpc.StatusCode] = {}
        self.calls: list[str] = []
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

    def lose_next(self, method: str, count: int = 1) -> None:
        self._lose[method] = count

    def refuse_next(self, method: str, code: grpc.StatusCode) -> None:
        """Answer the next call of ``method`` with ``code``; the emulator never sees it."""
        self._refuse[method] = code

    def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        full: str = details.method  # type: ignore[attr-defined]
        if not full.startswith(_SERVICE):
            return None
        name = full.removeprefix(_SERVICE)
        if name in _STREAMING:
            return grpc.unary_stream_rpc_method_handler(self._streaming(full))
        return grpc.unary_unary_rpc_method_handler(self._unary(full, name))

    def _unary(self, full: str, name: str) -> Any:
        async def forward(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
            assert self._channel is not None
            self.calls.append(name)
            refusal = self._refuse.pop(name, None)
            if refusal is not None:
                await context.abort(refusal, "refused (injected)")
            call = self._channel.unary_unary(full)
            try:
                reply: bytes = await call(request, metadata=context.invocation_metadata())
            except grpc.aio.AioRpcError as exc:
                await context.abort(exc.code(), exc.details() or "")
            if self._lose.get(name):
                self._lose[name] -= 1
                await context.abort(grpc.StatusCode.DEADLINE_EXCEEDED, "answer lost (injected)")
            return reply

        return forward

    def _streaming(self, full: str) -> Any:
        async def forward(
            request: bytes, context: grpc.aio.ServicerContext
        ) -> AsyncIterator[bytes]:
            assert self._channel is not None
            call = self._channel.unary_stream(full)
            async for message in call(request, metadata=context.invocation_metadata()):
                yield message

        return forward
