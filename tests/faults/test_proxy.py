"""The fault proxy does what each fault says, in front of a tiny loopback server that
counts the requests it received (so "the server acted" is observable)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator

import pytest

from tests.faults._proxy import FaultProxy, FaultRates


class _Counter:
    """Answers each line with the number of lines it has received (or with ``answer``)."""

    def __init__(self) -> None:
        self.received = 0
        self.port = 0
        self.answer: bytes | None = None

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while await reader.readline():
                self.received += 1
                writer.write(self.answer or f"{self.received}\n".encode())
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass  # reset by the proxy, or the test is over
        writer.close()


@pytest.fixture
async def upstream() -> AsyncIterator[_Counter]:
    counter = _Counter()
    server = await asyncio.start_server(counter.handle, "127.0.0.1", 0)
    counter.port = server.sockets[0].getsockname()[1]
    yield counter
    server.close()


async def _ask(proxy: FaultProxy) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    try:
        writer.write(b"hello\n")
        await writer.drain()
        return await asyncio.wait_for(reader.readline(), timeout=5)
    finally:
        writer.close()


@pytest.fixture
def proxy(upstream: _Counter) -> Iterator[FaultProxy]:
    fault_proxy = FaultProxy("127.0.0.1", upstream.port, seed=1)
    fault_proxy.stall_seconds = 0.3
    fault_proxy.start()
    yield fault_proxy
    fault_proxy.stop()


async def test_calm_passes_both_ways(proxy: FaultProxy, upstream: _Counter) -> None:
    assert await _ask(proxy) == b"1\n"


async def test_reset_never_reaches_the_server(proxy: FaultProxy, upstream: _Counter) -> None:
    proxy.set_rates(FaultRates(reset=1.0))
    await asyncio.sleep(0.05)
    answer = await _ask_or_reset(proxy)
    assert answer in {b"", None}
    assert upstream.received == 0
    assert proxy.injected["reset"] == 1


async def test_drop_reaches_the_server_and_loses_its_answer(
    proxy: FaultProxy, upstream: _Counter
) -> None:
    proxy.set_rates(FaultRates(drop=1.0))
    await asyncio.sleep(0.05)
    assert await _ask_or_reset(proxy) in {b"", None}
    await asyncio.sleep(0.1)
    assert upstream.received == 1


async def test_down_refuses_and_up_listens_again(proxy: FaultProxy, upstream: _Counter) -> None:
    await asyncio.to_thread(proxy.down)
    with pytest.raises(ConnectionRefusedError):
        await _ask(proxy)
    await asyncio.to_thread(proxy.up)
    assert await _ask(proxy) == b"1\n"


async def _ask_or_reset(proxy: FaultProxy) -> bytes | None:
    try:
        return await _ask(proxy)
    except ConnectionError:
        return None


async def test_stall_holds_the_connection_silent_then_resets_it(
    proxy: FaultProxy, upstream: _Counter
) -> None:
    proxy.set_rates(FaultRates(stall=1.0))
    await asyncio.sleep(0.05)
    started = asyncio.get_running_loop().time()
    assert await _ask_or_reset(proxy) in {b"", None}
    assert asyncio.get_running_loop().time() - started >= proxy.stall_seconds


async def test_truncate_passes_half_an_answer_then_resets(
    proxy: FaultProxy, upstream: _Counter
) -> None:
    upstream.answer = b"0123456789\n"
    proxy.set_rates(FaultRates(truncate=1.0))
    await asyncio.sleep(0.05)
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    try:
        writer.write(b"hello\n")
        await writer.drain()
        received = b""
        with contextlib.suppress(ConnectionError):
            while chunk := await asyncio.wait_for(reader.read(100), timeout=5):
                received += chunk
    finally:
        writer.close()
    assert upstream.received == 1
    assert received == b"01234"  # half of the 11 bytes
