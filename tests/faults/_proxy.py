"""A fault-injecting loopback TCP proxy, protocol-blind (HTTP/1.1 for CouchDB and DynamoDB,
HTTP/2 gRPC for Firestore), running its own event loop in a thread of its own.

An *exchange* starts with the first bytes a client sends after the server last spoke. For
each one the proxy draws, from its seeded generator, one of:

- pass: forward both ways;
- reset: reset the connection (RST) before forwarding anything: the server never saw it;
- drop: forward the request, then reset the client's connection as the answer arrives,
  without passing it on: the server acted, the client never learns the outcome;
- stall: forward the request (or not, half the time), then hold the connection silent for
  ``stall_seconds`` (past the client's request timeout) and reset it;
- truncate: forward the request and half of the answer's first chunk, then reset: the
  client gets a cut-off answer (a status line and no body, half a JSON document, …).

``down()`` closes the listening socket and resets every open connection: the address
refuses connections until ``up()`` listens again on the same port. The proxy runs in a
thread so that the test's event loop, or threads blocked in the sync facade, never delay
it, and so that its decisions depend only on the order of the traffic and the seed.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import struct
import threading
from collections import Counter
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

from tests.backends._process import free_port

__all__ = ["FaultProxy", "FaultRates"]

T = TypeVar("T")
_CHUNK = 65536


@dataclass(frozen=True)
class FaultRates:
    """Probabilities per exchange; the rest passes."""

    reset: float = 0.0
    drop: float = 0.0
    stall: float = 0.0
    truncate: float = 0.0

    def draw(self, rng: random.Random) -> str:
        roll = rng.random()
        rates = (
            ("reset", self.reset),
            ("drop", self.drop),
            ("stall", self.stall),
            ("truncate", self.truncate),
        )
        for kind, rate in rates:
            if roll < rate:
                return kind
            roll -= rate
        return "pass"


CALM = FaultRates()


class _Link:
    """One client connection and its upstream connection."""

    def __init__(self, client: asyncio.StreamWriter, upstream: asyncio.StreamWriter) -> None:
        self.client = client
        self.upstream = upstream
        self.server_spoke_last = True
        self.drop_answer = False
        self.truncate_answer = False
        self.silent = False
        self.closed = False

    def reset(self) -> None:
        """Close both sides with RST (SO_LINGER 0), as a crashed peer or a middlebox does."""
        if self.closed:
            return
        self.closed = True
        for writer in (self.client, self.upstream):
            sock = writer.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()


class FaultProxy:
    """``127.0.0.1:port`` → ``upstream_host:upstream_port``, with faults on demand."""

    def __init__(self, upstream_host: str, upstream_port: int, *, seed: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.url = f"http://{self.host}"
        self.injected: Counter[str] = Counter()
        self.stall_seconds = 2.0
        self._rng = random.Random(seed)
        self._rates = CALM
        self._links: set[_Link] = set()
        self._server: asyncio.Server | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    # -- control (from any thread) ---------------------------------------------------------
    def start(self) -> None:
        self._thread.start()
        self._call(self._listen())

    def stop(self) -> None:
        self._call(self._shut())
        self._call(self._cancel_rest())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def set_rates(self, rates: FaultRates) -> None:
        self._loop.call_soon_threadsafe(setattr, self, "_rates", rates)

    def calm(self) -> None:
        self.set_rates(CALM)

    def down(self) -> None:
        """Refuse connections (nothing listens) and reset the open ones."""
        self._call(self._shut())
        self.injected["down"] += 1

    def up(self) -> None:
        self._call(self._listen())

    def reset_all(self) -> None:
        self._call(self._reset_links())

    def _call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=30)

    # -- inside the proxy's loop -----------------------------------------------------------
    async def _listen(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(
                self._accept, "127.0.0.1", self.port, reuse_address=True
            )

    async def _shut(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        await self._reset_links()

    async def _cancel_rest(self) -> None:
        """Cancel what still runs (stalls asleep), so that nothing outlives the loop."""
        rest = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in rest:
            task.cancel()
        await asyncio.gather(*rest, return_exceptions=True)

    async def _reset_links(self) -> None:
        for link in list(self._links):
            link.reset()
        self._links.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            # The server is down (killed, restarting): the client sees its connection reset.
            _Link(writer, writer).reset()
            return
        link = _Link(writer, up_writer)
        self._links.add(link)
        try:
            await asyncio.gather(
                self._from_client(link, reader), self._from_server(link, up_reader)
            )
        except asyncio.CancelledError:
            pass  # the proxy stops: asyncio's stream callback must not see a cancelled task
        finally:
            link.reset()
            self._links.discard(link)

    async def _from_client(self, link: _Link, reader: asyncio.StreamReader) -> None:
        while not link.closed:
            try:
                data = await reader.read(_CHUNK)
            except (ConnectionError, OSError):
                break
            if not data:
                break
            if link.server_spoke_last:
                link.server_spoke_last = False
                fault = self._rates.draw(self._rng)
                if fault != "pass":
                    self.injected[fault] += 1
                if fault == "reset":
                    break
                if fault == "drop":
                    link.drop_answer = True
                elif fault == "truncate":
                    link.truncate_answer = True
                elif fault == "stall":
                    link.silent = True
                    if self._rng.random() < 0.5:
                        await self._write(link.upstream, data)
                    await asyncio.sleep(self.stall_seconds)
                    break
            if not await self._write(link.upstream, data):
                break
        link.reset()

    async def _from_server(self, link: _Link, reader: asyncio.StreamReader) -> None:
        while not link.closed:
            try:
                data = await reader.read(_CHUNK)
            except (ConnectionError, OSError):
                break
            if not data or link.drop_answer:
                break
            link.server_spoke_last = True
            if link.silent:
                continue
            if link.truncate_answer:
                await self._write(link.client, data[: max(1, len(data) // 2)])
                break
            if not await self._write(link.client, data):
                break
        link.reset()

    @staticmethod
    async def _write(writer: asyncio.StreamWriter, data: bytes) -> bool:
        try:
            writer.write(data)
            await writer.drain()
        except (ConnectionError, OSError):
            return False
        return True
