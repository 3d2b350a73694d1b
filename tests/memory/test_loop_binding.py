"""A service runs on one event loop, the first that uses it; a call from another loop is
refused at once with ``WrongEventLoopError``, before it reaches the driver, instead of
hanging on connections that belong to the first loop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from asyncdb import AsyncDBError, DatabaseService, ServiceClosedError
from asyncdb._guard import WrongEventLoopError
from asyncdb.drivers.memory import MemoryDriver
from asyncdb.testing import CallRecorder

ITEMS = "items"
JOIN_TIMEOUT = 30.0

Call = Callable[[DatabaseService], Coroutine[Any, Any, Any]]


async def _first_of_iter_all(db: DatabaseService) -> Any:
    return await anext(db.iter_all(ITEMS))


CALLS: dict[str, Call] = {
    "open": lambda db: db.open(),
    "ping": lambda db: db.ping(),
    "get": lambda db: db.get(ITEMS, "a"),
    "save": lambda db: db.save(ITEMS, "b", {"n": 2}),
    "create": lambda db: db.create(ITEMS, "c", {"n": 3}),
    "update": lambda db: db.update(ITEMS, "a", lambda doc: doc),
    "delete": lambda db: db.delete(ITEMS, "a"),
    "list_all": lambda db: db.list_all(ITEMS),
    "iter_all": _first_of_iter_all,
    "list_page": lambda db: db.list_page(ITEMS),
    "get_many": lambda db: db.get_many(ITEMS, ["a"]),
    "save_many": lambda db: db.save_many(ITEMS, [{"_id": "d"}]),
    "delete_many": lambda db: db.delete_many(ITEMS, ["a"]),
    "find": lambda db: db.find(ITEMS, {"n": 1}),
    "ensure_index": lambda db: db.ensure_index(ITEMS, ["n"]),
    "list_collections": lambda db: db.list_collections(),
    "drop_collection": lambda db: db.drop_collection(ITEMS),
    "check_document": lambda db: db.check_document("a", {"n": 1}),
    "aclose": lambda db: db.aclose(),
}


class LoopThread:
    """An event loop running in a thread of its own, for as long as the test needs it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        """The coroutine's result or the exception it raised; a hang fails the test."""
        future = asyncio.run_coroutine_threadsafe(_outcome(coro), self.loop)
        return future.result(JOIN_TIMEOUT)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(JOIN_TIMEOUT)
        self.loop.close()


async def _outcome(coro: Coroutine[Any, Any, Any]) -> Any:
    try:
        return await coro
    except Exception as exc:
        return exc


@pytest.fixture
def home() -> Any:
    loop = LoopThread()
    yield loop
    loop.stop()


@pytest.fixture
def other() -> Any:
    loop = LoopThread()
    yield loop
    loop.stop()


@pytest.mark.parametrize("name", sorted(CALLS))
def test_every_call_from_another_loop_is_refused_before_io(
    name: str, home: LoopThread, other: LoopThread
) -> None:
    recorder = CallRecorder(MemoryDriver())
    db = DatabaseService(recorder)
    assert home.run(db.save(ITEMS, "a", {"n": 1}))["n"] == 1
    recorder.calls.clear()
    refused = other.run(CALLS[name](db))
    assert isinstance(refused, WrongEventLoopError)
    assert isinstance(refused, AsyncDBError)
    assert isinstance(refused, RuntimeError)
    assert refused.status_code == 500
    assert "another event loop" in str(refused)
    assert recorder.calls == []
    # the service's own loop is unharmed, and still the only one it serves
    assert not db.closed
    assert home.run(db.get(ITEMS, "a"))["n"] == 1
    assert home.run(db.aclose()) is None
    assert db.closed


def test_the_loop_is_the_first_that_uses_the_service_not_where_it_was_built(
    home: LoopThread, other: LoopThread
) -> None:
    db = DatabaseService(MemoryDriver())  # built here, outside any loop
    assert home.run(db.ping()) is None  # binds the service to ``home``
    assert isinstance(other.run(db.ping()), WrongEventLoopError)
    assert home.run(db.ping()) is None
    assert home.run(db.aclose()) is None


def test_a_closed_service_says_closed_on_any_loop(home: LoopThread, other: LoopThread) -> None:
    db = DatabaseService(MemoryDriver())
    assert home.run(db.ping()) is None
    assert home.run(db.aclose()) is None
    assert isinstance(other.run(db.get(ITEMS, "a")), ServiceClosedError)
    assert other.run(db.aclose()) is None  # idempotent: nothing left to close


def test_two_loops_racing_for_a_fresh_service_bind_it_once(
    home: LoopThread, other: LoopThread
) -> None:
    for _ in range(20):
        db = DatabaseService(MemoryDriver())
        barrier = threading.Barrier(2)

        async def ping(db: DatabaseService = db, barrier: threading.Barrier = barrier) -> None:
            barrier.wait(JOIN_TIMEOUT)
            await db.ping()

        futures = [
            asyncio.run_coroutine_threadsafe(_outcome(ping()), x.loop) for x in (home, other)
        ]
        outcomes = [future.result(JOIN_TIMEOUT) for future in futures]
        refused = [o for o in outcomes if isinstance(o, WrongEventLoopError)]
        assert len(refused) == 1, outcomes
        assert outcomes.count(None) == 1


async def test_a_service_used_in_a_test_loop_stays_usable_there() -> None:
    async with DatabaseService(MemoryDriver()) as db:
        await db.save(ITEMS, "a", {"n": 1})
        async with asyncio.TaskGroup() as group:  # tasks of one loop share the service
            for i in range(10):
                group.create_task(db.save(ITEMS, f"t{i}", {"n": i}))
        assert len(await db.list_all(ITEMS)) == 11
