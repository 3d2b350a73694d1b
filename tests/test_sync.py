"""Unit tests of ``SyncDatabaseService``, the blocking facade."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Generator, Iterator
from typing import Any

import anyio
import pytest

from asyncdb import Page, SyncDatabaseService
from asyncdb import _registry as registry
from asyncdb._documents import Document
from asyncdb._guard import WrongEventLoopError
from asyncdb._service import DatabaseService
from asyncdb._settings import Settings
from asyncdb.drivers.memory import MemoryDriver
from asyncdb.errors import (
    ConflictError,
    InvalidNameError,
    NotFoundError,
    ServiceClosedError,
    SyncFacadeMisuseError,
)
from asyncdb.middleware.prefix import PrefixMiddleware
from asyncdb.testing import CallRecorder

ITEMS = "items"
JOIN_TIMEOUT = 60.0


@pytest.fixture
def recorder() -> CallRecorder:
    return CallRecorder(MemoryDriver())


@pytest.fixture
def sdb(recorder: CallRecorder) -> Iterator[SyncDatabaseService]:
    facade = SyncDatabaseService(DatabaseService(recorder))
    yield facade
    facade.close()


def _scans(recorder: CallRecorder) -> int:
    return sum(1 for operation, _ in recorder.calls if operation == "scan")


def _in_a_loop_thread(make: Callable[[], Awaitable[Any]]) -> BaseException | Any:
    """Run ``make()`` in a fresh event loop on a daemon thread; return its result or the
    exception it raised. A hang shows up as a failed assertion, not a stuck test run."""
    outcome: list[Any] = []

    def target() -> None:
        async def main() -> Any:
            return await make()

        try:
            outcome.append(asyncio.run(main()))
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(JOIN_TIMEOUT)
    assert not thread.is_alive(), "the facade blocked inside a running event loop"
    return outcome[0]


# --------------------------------------------------------------------------------------------
# every method, from a plain script context
# --------------------------------------------------------------------------------------------


def test_single_document_methods(sdb: SyncDatabaseService) -> None:
    sdb.ping()
    saved = sdb.save(ITEMS, "a", {"n": 1})
    assert saved["_id"] == "a"
    assert sdb.get(ITEMS, "a") == saved
    created = sdb.create(ITEMS, "b", {"n": 10})
    assert created["n"] == 10
    assert sdb.delete(ITEMS, "b") is True
    assert sdb.delete(ITEMS, "b") is False
    with pytest.raises(NotFoundError):
        sdb.get(ITEMS, "b")


def test_update_with_plain_and_async_functions(sdb: SyncDatabaseService) -> None:
    sdb.save(ITEMS, "c", {"n": 1})

    def plain(doc: Document) -> Document:
        return {**doc, "n": doc["n"] + 1}

    async def awaited(doc: Document) -> Document:
        await asyncio.sleep(0)
        doc["n"] *= 10
        return doc

    def in_place(doc: Document) -> None:
        doc["tag"] = "x"

    assert sdb.update(ITEMS, "c", plain)["n"] == 2
    assert sdb.update(ITEMS, "c", awaited)["n"] == 20
    assert sdb.update(ITEMS, "c", in_place)["tag"] == "x"
    made = sdb.update(ITEMS, "new", plain, default={"n": 41})
    assert made["n"] == 42
    assert sdb.get(ITEMS, "c")["n"] == 20
    with pytest.raises(NotFoundError):
        sdb.update(ITEMS, "missing", plain)


def test_listing_methods(sdb: SyncDatabaseService) -> None:
    assert sdb.list_all(ITEMS) == []
    for i in range(5):
        sdb.save(ITEMS, f"d{i}", {"i": i})
    assert [d["i"] for d in sdb.list_all(ITEMS)] == [0, 1, 2, 3, 4]
    assert [d["i"] for d in sdb.iter_all(ITEMS, page_size=2)] == [0, 1, 2, 3, 4]
    first = sdb.list_page(ITEMS, limit=3)
    assert isinstance(first, Page)
    assert [d["i"] for d in first.items] == [0, 1, 2]
    assert first.next_cursor is not None
    second = sdb.list_page(ITEMS, limit=3, cursor=first.next_cursor)
    assert [d["i"] for d in second.items] == [3, 4]
    assert second.next_cursor is None


def test_bulk_methods(sdb: SyncDatabaseService) -> None:
    result = sdb.save_many(ITEMS, [{"_id": "x", "v": 1}, {"_id": "y", "v": 2}, {"_id": "\x00"}])
    assert len(result) == 3
    assert [o.ok for o in result] == [True, True, False]
    got = sdb.get_many(ITEMS, ["y", "nope", "x"])
    assert list(got) == ["y", "nope", "x"]
    assert got["nope"] is None
    assert got["x"] is not None
    assert got["x"]["v"] == 1
    deleted = sdb.delete_many(ITEMS, ["x", "nope"])
    assert deleted.ok
    assert sdb.get_many(ITEMS, ["x"]) == {"x": None}


def test_query_and_admin_methods(sdb: SyncDatabaseService, recorder: CallRecorder) -> None:
    sdb.save(ITEMS, "p", {"user": "u1", "k": "a"})
    sdb.save(ITEMS, "q", {"user": "u2", "k": "b"})
    sdb.ensure_index(ITEMS, ["user"])
    assert ("ensure_index", ITEMS) in recorder.calls
    hits = sdb.find(ITEMS, {"user": "u1"}, fields=["k"], limit=10)
    assert [(h["_id"], h["k"]) for h in hits] == [("p", "a")]
    assert "user" not in hits[0]
    sdb.drop_collection(ITEMS)
    assert sdb.list_all(ITEMS) == []


def test_iter_all_is_a_lazy_plain_iterator_fetching_page_by_page(
    sdb: SyncDatabaseService, recorder: CallRecorder
) -> None:
    sdb.save_many(ITEMS, [{"_id": f"i{n:02d}", "n": n} for n in range(25)])
    recorder.calls.clear()
    stream = sdb.iter_all(ITEMS, page_size=10)
    assert iter(stream) is stream
    assert _scans(recorder) == 0  # nothing fetched before the first item is asked for
    assert next(stream)["n"] == 0
    assert _scans(recorder) == 1
    seen = [next(stream)["n"] for _ in range(9)]
    assert seen == list(range(1, 10))
    assert _scans(recorder) == 1  # the first page is served from memory
    assert next(stream)["n"] == 10
    assert _scans(recorder) == 2
    rest = [doc["n"] for doc in stream]
    assert rest == list(range(11, 25))
    assert _scans(recorder) == 3


def test_abandoning_iter_all_fetches_no_more(
    sdb: SyncDatabaseService, recorder: CallRecorder
) -> None:
    sdb.save_many(ITEMS, [{"_id": f"i{n:02d}"} for n in range(30)])
    recorder.calls.clear()
    stream = sdb.iter_all(ITEMS, page_size=5)
    assert isinstance(stream, Generator)
    assert [next(stream)["_id"] for _ in range(3)] == ["i00", "i01", "i02"]
    stream.close()
    assert _scans(recorder) == 1
    assert len(sdb.list_all(ITEMS)) == 30  # the facade is still usable


def test_iter_all_refuses_a_bad_collection(sdb: SyncDatabaseService) -> None:
    with pytest.raises(InvalidNameError):
        next(sdb.iter_all("Bad Name"))


# --------------------------------------------------------------------------------------------
# threads
# --------------------------------------------------------------------------------------------


def test_sixteen_threads_updating_at_once_lose_nothing(sdb: SyncDatabaseService) -> None:
    sdb.save(ITEMS, "counter", {"n": 0, "by": []})
    barrier = threading.Barrier(16)
    errors: list[BaseException] = []

    def plain(doc: Document) -> Document:
        return {**doc, "n": doc["n"] + 1}

    async def awaited(doc: Document) -> Document:
        await asyncio.sleep(0)  # let the other updates interleave: real conflicts
        return {**doc, "n": doc["n"] + 1}

    def worker(index: int) -> None:
        try:
            barrier.wait()
            for _ in range(10):
                sdb.update(ITEMS, "counter", awaited if index % 2 else plain, attempts=500)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(JOIN_TIMEOUT)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    assert sdb.get(ITEMS, "counter")["n"] == 160


def test_many_threads_reading_and_writing(sdb: SyncDatabaseService) -> None:
    def worker(index: int) -> None:
        for j in range(5):
            doc_id = f"t{index}-{j}"
            sdb.save(ITEMS, doc_id, {"i": index, "j": j})
            assert sdb.get(ITEMS, doc_id)["j"] == j

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(JOIN_TIMEOUT)
    assert len(sdb.list_all(ITEMS)) == 80


# --------------------------------------------------------------------------------------------
# misuse from an event loop's thread
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.get(ITEMS, "a"),
        lambda s: s.save(ITEMS, "a", {}),
        lambda s: s.list_all(ITEMS),
        lambda s: s.ping(),
        lambda s: next(s.iter_all(ITEMS)),
        lambda s: s.close(),
    ],
    ids=["get", "save", "list_all", "ping", "iter_all", "close"],
)
def test_calls_from_a_running_loop_raise_at_once(
    sdb: SyncDatabaseService, call: Callable[[SyncDatabaseService], Any]
) -> None:
    async def misuse() -> Any:
        return call(sdb)

    outcome = _in_a_loop_thread(misuse)
    assert isinstance(outcome, SyncFacadeMisuseError)
    assert isinstance(outcome, RuntimeError)
    assert "event loop" in str(outcome)
    # the facade was not harmed
    sdb.save(ITEMS, "after", {"ok": True})
    assert sdb.get(ITEMS, "after")["ok"] is True


def test_constructing_inside_a_running_loop_raises() -> None:
    async def construct() -> Any:
        return SyncDatabaseService(DatabaseService(MemoryDriver()))

    outcome = _in_a_loop_thread(construct)
    assert isinstance(outcome, SyncFacadeMisuseError)


def test_calling_the_facade_from_its_own_portal_thread_raises(sdb: SyncDatabaseService) -> None:
    """``update``'s function runs on the portal's loop: calling back into the facade there
    would deadlock; it must raise instead."""
    sdb.save(ITEMS, "re", {"n": 1})
    outcome: list[BaseException] = []

    def reentrant(doc: Document) -> Document:
        sdb.get(ITEMS, "re")
        return doc

    def target() -> None:
        try:
            sdb.update(ITEMS, "re", reentrant)
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(JOIN_TIMEOUT)
    assert not thread.is_alive(), "re-entering the facade deadlocked"
    assert len(outcome) == 1
    assert isinstance(outcome[0], SyncFacadeMisuseError)


async def test_an_async_test_calling_the_facade_directly(sdb: SyncDatabaseService) -> None:
    with pytest.raises(SyncFacadeMisuseError):
        sdb.get(ITEMS, "a")
    with pytest.raises(SyncFacadeMisuseError):
        SyncDatabaseService(DatabaseService(MemoryDriver()))


# --------------------------------------------------------------------------------------------
# lifecycle
# --------------------------------------------------------------------------------------------


def test_the_context_manager_closes_the_portal_thread_and_the_service() -> None:
    service = DatabaseService(MemoryDriver())
    threads: list[threading.Thread] = []

    def note_thread(doc: Document) -> Document:
        threads.append(threading.current_thread())
        return doc

    with SyncDatabaseService(service) as sdb:
        sdb.save(ITEMS, "a", {"n": 1})
        sdb.update(ITEMS, "a", note_thread)
        assert threads
        assert threads[0] is not threading.current_thread()
        assert threads[0].is_alive()
        assert not service.closed
    assert service.closed
    assert sdb.service is service
    threads[0].join(JOIN_TIMEOUT)
    assert not threads[0].is_alive()
    for call in (
        lambda: sdb.get(ITEMS, "a"),
        lambda: sdb.save(ITEMS, "a", {}),
        lambda: sdb.list_all(ITEMS),
        lambda: next(sdb.iter_all(ITEMS)),
        sdb.ping,
    ):
        with pytest.raises(ServiceClosedError):
            call()
    sdb.close()  # idempotent


class LoopNotingDriver(MemoryDriver):
    """A memory driver that notes the event loop it is built on and each call runs on."""

    def __init__(self) -> None:
        super().__init__()
        self.loops: list[object] = [_running_loop()]

    async def put(self, *args: Any, **kwargs: Any) -> str:
        self.loops.append(_running_loop())
        return await super().put(*args, **kwargs)

    async def get(self, collection: str, doc_id: str) -> Any:
        self.loops.append(_running_loop())
        return await super().get(collection, doc_id)


def _running_loop() -> object:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def test_a_facade_over_settings_builds_its_service_on_its_own_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Before, the facade built its service in the caller's thread, outside any loop, and
    ran it on another: a driver that makes its client at construction got it on no loop."""
    monkeypatch.setitem(registry._registered, "loopnoting", LoopNotingDriver)
    with SyncDatabaseService(Settings(database_provider="loopnoting")) as sdb:
        sdb.save(ITEMS, "a", {"n": 1})
        sdb.get(ITEMS, "a")
        driver = sdb.service.driver
        assert isinstance(driver, LoopNotingDriver)
        assert len(driver.loops) == 3
        assert driver.loops[0] is not None, "the driver was built outside the facade's loop"
        assert all(loop is driver.loops[0] for loop in driver.loops)
    assert sdb.service.closed


def test_a_facade_refuses_a_service_already_used_on_another_loop() -> None:
    service = DatabaseService(MemoryDriver())
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(service.save(ITEMS, "a", {"n": 1}))
        threads = threading.active_count()
        with pytest.raises(WrongEventLoopError) as refused:
            SyncDatabaseService(service)
        assert "not been used yet" in str(refused.value)
        assert "over_running_loop" in str(refused.value)
        assert threading.active_count() == threads  # no portal thread was left behind
        # its own loop still serves it, untouched
        assert loop.run_until_complete(service.get(ITEMS, "a"))["n"] == 1
        assert not service.closed
        loop.run_until_complete(service.aclose())
    finally:
        loop.close()


def test_a_service_taken_over_by_a_facade_refuses_other_loops() -> None:
    service = DatabaseService(MemoryDriver())
    with SyncDatabaseService(service) as sdb:
        sdb.save(ITEMS, "a", {"n": 1})

        async def elsewhere() -> Any:
            return await service.get(ITEMS, "a")

        outcome = _in_a_loop_thread(elsewhere)
        assert isinstance(outcome, WrongEventLoopError)
        assert sdb.get(ITEMS, "a")["n"] == 1  # the facade's loop still serves it
    assert service.closed


def test_the_facade_no_longer_takes_close_service() -> None:
    """A service bound to the facade's loop is useless once that loop stops: the facade
    that runs it closes it, always."""
    with pytest.raises(TypeError):
        SyncDatabaseService(DatabaseService(MemoryDriver()), close_service=False)  # type: ignore[call-arg]


async def test_a_facade_over_the_running_loop_refuses_a_service_of_another_loop() -> None:
    service = DatabaseService(MemoryDriver())
    await anyio.to_thread.run_sync(lambda: asyncio.run(service.ping()))
    with pytest.raises(WrongEventLoopError):
        SyncDatabaseService.over_running_loop(service)


def test_the_facade_offers_check_document_and_open(sdb: SyncDatabaseService) -> None:
    sdb.open()
    checked = sdb.check_document("a", {"n": 1})
    assert checked == {"_id": "a", "n": 1}
    with pytest.raises(NotFoundError):
        sdb.get(ITEMS, "a")  # checked, not written


def test_a_facade_over_settings_builds_its_own_service() -> None:
    with SyncDatabaseService(Settings(database_provider="memory", collection_prefix="sp_")) as sdb:
        assert isinstance(sdb.service, DatabaseService)
        assert isinstance(sdb.service.driver, PrefixMiddleware)
        assert sdb.service.driver.prefix == "sp_"
        sdb.save(ITEMS, "a", {"n": 1})
        assert sdb.get(ITEMS, "a")["n"] == 1
        assert "SyncDatabaseService" in repr(sdb)
    assert sdb.service.closed


def test_a_facade_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_PROVIDER", " Memory ")
    monkeypatch.setenv("DATABASE_COLLECTION_PREFIX", "envsync_")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    with SyncDatabaseService() as sdb:
        assert isinstance(sdb.service.driver, PrefixMiddleware)
        assert sdb.service.driver.prefix == "envsync_"
        assert isinstance(sdb.service.driver.inner, MemoryDriver)
        sdb.save(ITEMS, "a", {"n": 1})
    assert sdb.service.closed


def test_two_facades_over_settings_are_independent() -> None:
    with (
        SyncDatabaseService(Settings(database_provider="memory")) as one,
        SyncDatabaseService(Settings(database_provider="memory")) as two,
    ):
        assert one.service is not two.service
        one.save(ITEMS, "a", {"n": 1})
        with pytest.raises(NotFoundError):
            two.get(ITEMS, "a")


# --------------------------------------------------------------------------------------------
# errors keep their class
# --------------------------------------------------------------------------------------------


def test_errors_propagate_with_their_class(sdb: SyncDatabaseService) -> None:
    with pytest.raises(NotFoundError) as missing:
        sdb.get(ITEMS, "nope")
    assert missing.value.status_code == 404
    assert missing.value.doc_id == "nope"
    first = sdb.create(ITEMS, "once", {"n": 1})
    with pytest.raises(ConflictError) as taken:
        sdb.create(ITEMS, "once", {"n": 2})
    assert taken.value.status_code == 409
    sdb.save(ITEMS, "once", {"n": 3})
    with pytest.raises(ConflictError):
        sdb.save(ITEMS, "once", {"n": 4, "_rev": first["_rev"]})
    with pytest.raises(ConflictError):
        sdb.delete(ITEMS, "once", rev=first["_rev"])
    with pytest.raises(InvalidNameError):
        sdb.get("X", "a")


def test_an_exception_raised_by_the_update_function_propagates(sdb: SyncDatabaseService) -> None:
    class Refused(Exception):
        pass

    def refuse(doc: Document) -> Document:
        raise Refused("no")

    sdb.save(ITEMS, "u", {"n": 1})
    with pytest.raises(Refused):
        sdb.update(ITEMS, "u", refuse)
    assert sdb.get(ITEMS, "u")["n"] == 1


async def test_a_facade_over_the_running_loop_serves_worker_threads() -> None:
    async with DatabaseService(MemoryDriver()) as service:
        facade = SyncDatabaseService.over_running_loop(service)
        saved = await anyio.to_thread.run_sync(facade.save, "items", "a", {"v": 1})
        assert (await service.get("items", "a")) == saved  # same loop, same store
        with pytest.raises(SyncFacadeMisuseError):
            facade.get("items", "a")  # blocking the loop's own thread is refused
        facade.close()  # from the loop thread: only stops accepting calls
        assert not service.closed
        with pytest.raises(ServiceClosedError):
            await anyio.to_thread.run_sync(facade.get, "items", "a")
