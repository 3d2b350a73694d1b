"""What the face (``DatabaseService``) does around a driver that misbehaves, its lifecycle,
and the middleware's delegation."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import pytest

from asyncdb._query import Query, parse_query
from asyncdb._service import DatabaseService
from asyncdb.drivers.base import (
    Body,
    DeleteRequest,
    Driver,
    DriverLimits,
    Record,
    ScanPage,
    WriteOutcome,
    WriteRequest,
)
from asyncdb.drivers.memory import MemoryDriver
from asyncdb.errors import (
    AsyncDBError,
    BackendError,
    BackendUnavailableError,
    ConflictError,
    InvalidNameError,
    NotFoundError,
    ServiceClosedError,
)
from asyncdb.middleware import DriverWrapper, PrefixMiddleware
from asyncdb.testing import CallRecorder

SECRET = "hunter2-7c1f"
ITEMS = "items"


class BrokenDriver(Driver):
    """Every operation raises ``error`` (a fresh RuntimeError carrying a secret by default)."""

    name = "broken"

    def __init__(self, error: Callable[[], BaseException] | None = None) -> None:
        self.error = error or (lambda: RuntimeError(f"boom secret={SECRET}"))
        self.password = SECRET

    def describe(self) -> str:
        return "broken://db.example:1234"

    def __repr__(self) -> str:  # a careless repr: the face must not use it
        return f"BrokenDriver(password={self.password!r})"

    async def open(self) -> None:
        raise self.error()

    async def ping(self) -> None:
        raise self.error()

    async def get(self, collection: str, doc_id: str) -> Record | None:
        raise self.error()

    async def put(
        self,
        collection: str,
        doc_id: str,
        body: Body,
        *,
        if_rev: str | None = None,
        if_absent: bool = False,
    ) -> str:
        raise self.error()

    async def delete(self, collection: str, doc_id: str, *, if_rev: str | None = None) -> bool:
        raise self.error()

    async def scan(self, collection: str, *, after: str | None, limit: int) -> ScanPage:
        raise self.error()

    async def put_many(self, collection: str, writes: Sequence[WriteRequest]) -> list[Any]:
        raise self.error()

    async def delete_many(self, collection: str, deletes: Sequence[DeleteRequest]) -> list[Any]:
        raise self.error()

    async def find(self, collection: str, query: Query, limit: int | None) -> list[Record]:
        raise self.error()

    async def ensure_index(
        self, collection: str, fields: Sequence[str], *, order_by: Sequence[Any] = ()
    ) -> None:
        raise self.error()

    async def drop_collection(self, collection: str) -> None:
        raise self.error()

    async def list_collections(self) -> list[str]:
        raise self.error()


class TrackingDriver(MemoryDriver):
    """A memory driver that counts its lifecycle calls."""

    def __init__(self) -> None:
        super().__init__()
        self.opened = 0
        self.closed = 0
        self.pinged = 0

    async def open(self) -> None:
        self.opened += 1

    async def aclose(self) -> None:
        self.closed += 1

    async def ping(self) -> None:
        self.pinged += 1


Call = Callable[[DatabaseService], Awaitable[Any]]


async def _list_all(db: DatabaseService) -> Any:
    return await db.list_all(ITEMS)


async def _iter_all(db: DatabaseService) -> Any:
    return [doc async for doc in db.iter_all(ITEMS)]


async def _update(db: DatabaseService) -> Any:
    return await db.update(ITEMS, "a", lambda d: d)


CALLS: dict[str, Call] = {
    "open": lambda db: db.open(),
    "ping": lambda db: db.ping(),
    "get": lambda db: db.get(ITEMS, "a"),
    "save": lambda db: db.save(ITEMS, "a", {"n": 1}),
    "create": lambda db: db.create(ITEMS, "a", {"n": 1}),
    "update": _update,
    "delete": lambda db: db.delete(ITEMS, "a"),
    "list_all": _list_all,
    "iter_all": _iter_all,
    "list_page": lambda db: db.list_page(ITEMS),
    "get_many": lambda db: db.get_many(ITEMS, ["a", "b"]),
    "save_many": lambda db: db.save_many(ITEMS, [{"_id": "a"}]),
    "delete_many": lambda db: db.delete_many(ITEMS, ["a"]),
    "find": lambda db: db.find(ITEMS, {"n": 1}),
    "ensure_index": lambda db: db.ensure_index(ITEMS, ["n"]),
    "drop_collection": lambda db: db.drop_collection(ITEMS),
    "list_collections": lambda db: db.list_collections(),
}


# --------------------------------------------------------------------------------------------
# error shaping
# --------------------------------------------------------------------------------------------


async def test_an_unexpected_exception_becomes_a_backend_error_without_its_text() -> None:
    db = DatabaseService(BrokenDriver())
    with pytest.raises(BackendError) as caught:
        await db.get(ITEMS, "a")
    error = caught.value
    assert type(error) is BackendError
    assert error.status_code == 500
    assert isinstance(error.__cause__, RuntimeError)
    assert SECRET in str(error.__cause__)
    message = str(error)
    assert "RuntimeError" in message
    assert "get" in message
    assert "broken://db.example:1234" in message
    assert SECRET not in message
    assert "boom" not in message


@pytest.mark.parametrize("name", list(CALLS))
async def test_every_operation_shapes_unexpected_exceptions(name: str) -> None:
    db = DatabaseService(BrokenDriver())
    with pytest.raises(BackendError) as caught:
        await CALLS[name](db)
    assert isinstance(caught.value.__cause__, RuntimeError)
    assert SECRET not in str(caught.value)


async def test_the_log_line_does_not_contain_the_exception_text(
    caplog: pytest.LogCaptureFixture,
) -> None:
    db = DatabaseService(BrokenDriver())
    with caplog.at_level(logging.DEBUG, logger="asyncdb"), pytest.raises(BackendError):
        await db.save(ITEMS, "a", {"n": 1})
    assert caplog.records
    for record in caplog.records:
        assert SECRET not in record.getMessage()


@pytest.mark.parametrize(
    "make",
    [
        lambda: ConflictError("stale"),
        lambda: BackendUnavailableError("down"),
        lambda: NotFoundError("items", "x"),
        lambda: BackendError("already shaped"),
    ],
    ids=["conflict", "unavailable", "not-found", "backend"],
)
async def test_asyncdb_errors_pass_through_unchanged(make: Callable[[], AsyncDBError]) -> None:
    raised: list[AsyncDBError] = []

    def error() -> AsyncDBError:
        raised.append(make())
        return raised[-1]

    db = DatabaseService(BrokenDriver(error))
    with pytest.raises(AsyncDBError) as caught:
        await db.save(ITEMS, "a", {"n": 1})
    assert caught.value is raised[-1]
    with pytest.raises(AsyncDBError) as listed:
        await db.list_all(ITEMS)
    assert listed.value is raised[-1]


async def test_an_asyncdb_error_inside_concurrent_fallbacks_keeps_its_class() -> None:
    """``Driver.get_many``'s default runs ``get`` in a task group: the error the driver
    raised must surface, not an ExceptionGroup shaped as a 500."""
    db = DatabaseService(BrokenDriver(lambda: BackendUnavailableError("down")))
    with pytest.raises(BackendUnavailableError):
        await db.get_many(ITEMS, ["a", "b", "c"])


async def test_an_unexpected_exception_inside_concurrent_fallbacks_is_chained() -> None:
    db = DatabaseService(BrokenDriver())
    with pytest.raises(BackendError) as caught:
        await db.get_many(ITEMS, ["a", "b", "c"])
    assert isinstance(caught.value.__cause__, RuntimeError)
    assert SECRET not in str(caught.value)


class ChunkedFailingDriver(MemoryDriver):
    """Concurrent chunks (max_concurrency > 1); the second chunk fails."""

    limits = DriverLimits(max_get_batch=2, max_write_batch=2, max_concurrency=4)

    async def get_many(self, collection: str, ids: Sequence[str]) -> dict[str, Record]:
        if "c" in ids:
            raise BackendUnavailableError("throttled")
        return await super().get_many(collection, ids)


async def test_an_error_in_one_concurrent_chunk_keeps_its_class() -> None:
    db = DatabaseService(ChunkedFailingDriver())
    with pytest.raises(BackendUnavailableError, match="throttled"):
        await db.get_many(ITEMS, ["a", "b", "c", "d", "e"])


async def test_the_update_function_s_own_exception_is_not_shaped() -> None:
    db = DatabaseService(MemoryDriver())
    await db.save(ITEMS, "a", {"n": 1})

    def fail(doc: dict[str, Any]) -> dict[str, Any]:
        raise KeyError("from the caller")

    with pytest.raises(KeyError):
        await db.update(ITEMS, "a", fail)


# --------------------------------------------------------------------------------------------
# construction, repr, lifecycle
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("attempts", [0, -1])
def test_update_attempts_must_be_positive(attempts: int) -> None:
    with pytest.raises(ValueError, match="update_attempts"):
        DatabaseService(MemoryDriver(), update_attempts=attempts)


async def test_one_update_attempt_gives_up_after_one_conflict() -> None:
    db = DatabaseService(MemoryDriver(), update_attempts=1)
    await db.save(ITEMS, "a", {"n": 0})

    async def interfere(doc: dict[str, Any]) -> dict[str, Any]:
        await db.save(ITEMS, "a", {"n": 100})  # someone else writes first
        return {**doc, "n": doc["n"] + 1}

    with pytest.raises(ConflictError):
        await db.update(ITEMS, "a", interfere)
    assert (await db.get(ITEMS, "a"))["n"] == 100


async def test_update_with_zero_attempts_is_a_value_error() -> None:
    db = DatabaseService(MemoryDriver())
    await db.save(ITEMS, "a", {"n": 0})
    with pytest.raises(ValueError, match="attempts"):
        await db.update(ITEMS, "a", lambda d: d, attempts=0)


async def test_repr_shows_the_description_and_state_but_no_secret() -> None:
    db = DatabaseService(BrokenDriver())
    text = repr(db)
    assert "broken://db.example:1234" in text
    assert "open" in text
    assert SECRET not in text
    await db.aclose()
    assert "closed" in repr(db)
    assert SECRET not in repr(db)


async def test_the_service_owns_its_driver_by_default() -> None:
    driver = TrackingDriver()
    db = DatabaseService(driver)
    await db.aclose()
    assert db.closed
    assert driver.closed == 1
    await db.aclose()
    await db.aclose()
    assert driver.closed == 1  # idempotent


async def test_close_driver_false_leaves_the_driver_open() -> None:
    driver = TrackingDriver()
    first = DatabaseService(driver, close_driver=False)
    await first.save(ITEMS, "a", {"n": 1})
    await first.aclose()
    assert first.closed
    assert driver.closed == 0
    second = DatabaseService(driver)
    assert (await second.get(ITEMS, "a"))["n"] == 1
    await second.aclose()
    assert driver.closed == 1


async def test_the_context_manager_opens_and_closes() -> None:
    driver = TrackingDriver()
    async with DatabaseService(driver) as db:
        assert driver.opened == 1
        await db.ping()
        assert driver.pinged == 1
    assert db.closed
    assert driver.closed == 1


@pytest.mark.parametrize("name", [n for n in CALLS if n != "open"])
async def test_a_closed_service_does_not_reach_the_driver(name: str) -> None:
    recorder = CallRecorder(MemoryDriver())
    db = DatabaseService(recorder)
    await db.aclose()
    with pytest.raises(ServiceClosedError) as caught:
        await CALLS[name](db)
    assert caught.value.status_code == 503
    assert recorder.calls == []


# --------------------------------------------------------------------------------------------
# middleware
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["App_", "1x", "_x", "a b", "a/", "x" * 65, "é"])
def test_prefix_middleware_refuses_an_invalid_prefix(prefix: str) -> None:
    with pytest.raises(InvalidNameError):
        PrefixMiddleware(MemoryDriver(), prefix)


def test_prefix_middleware_refuses_a_non_string_prefix() -> None:
    with pytest.raises(InvalidNameError):
        PrefixMiddleware(MemoryDriver(), None)  # type: ignore[arg-type]


def test_prefix_middleware_describes_itself() -> None:
    wrapped = PrefixMiddleware(MemoryDriver(), "env_")
    assert wrapped.describe() == "memory (prefix 'env_')"
    assert wrapped.name == "memory"
    assert wrapped.limits == MemoryDriver.limits


async def _exercise(driver: Driver) -> None:
    """Call every data operation of ``driver`` once, in a fixed order."""
    rev = await driver.put(ITEMS, "a", {"n": 1})
    assert (await driver.get(ITEMS, "a")) == Record("a", rev, {"n": 1})
    page = await driver.scan(ITEMS, after=None, limit=10)
    assert [r.id for r in page.records] == ["a"]
    assert set(await driver.get_many(ITEMS, ["a", "zz"])) == {"a"}
    outcomes = await driver.put_many(ITEMS, [WriteRequest("b", {"n": 2})])
    assert outcomes[0].ok
    found = await driver.find(ITEMS, parse_query({"n": 2}), None)
    assert [r.id for r in found] == ["b"]
    await driver.ensure_index(ITEMS, [("n",)])
    deleted = await driver.delete_many(ITEMS, [DeleteRequest("b")])
    assert deleted[0].ok
    assert await driver.delete(ITEMS, "a") is True
    await driver.drop_collection(ITEMS)


EXPECTED_OPERATIONS = [
    "put",
    "get",
    "scan",
    "get_many",
    "put_many",
    "find",
    "ensure_index",
    "delete_many",
    "delete",
    "drop_collection",
]


async def test_driver_wrapper_delegates_every_data_operation() -> None:
    recorder = CallRecorder(MemoryDriver())
    wrapper = DriverWrapper(recorder)
    await _exercise(wrapper)
    assert recorder.calls == [(operation, ITEMS) for operation in EXPECTED_OPERATIONS]


async def test_prefix_middleware_prefixes_every_data_operation() -> None:
    memory = MemoryDriver()
    recorder = CallRecorder(memory)
    await _exercise(PrefixMiddleware(recorder, "p_"))
    assert recorder.calls == [(operation, "p_" + ITEMS) for operation in EXPECTED_OPERATIONS]


async def test_driver_wrapper_passes_conditions_through() -> None:
    wrapper = DriverWrapper(MemoryDriver())
    rev = await wrapper.put(ITEMS, "a", {"n": 1}, if_absent=True)
    with pytest.raises(ConflictError):
        await wrapper.put(ITEMS, "a", {"n": 2}, if_absent=True)
    with pytest.raises(ConflictError):
        await wrapper.put(ITEMS, "a", {"n": 2}, if_rev="1-stale")
    new_rev = await wrapper.put(ITEMS, "a", {"n": 2}, if_rev=rev)
    with pytest.raises(ConflictError):
        await wrapper.delete(ITEMS, "a", if_rev=rev)
    assert await wrapper.delete(ITEMS, "a", if_rev=new_rev) is True
    page = await wrapper.scan(ITEMS, after="a", limit=5)
    assert page.records == []


async def test_driver_wrapper_delegates_the_lifecycle_and_identity() -> None:
    inner = TrackingDriver()
    wrapper = DriverWrapper(inner)
    assert wrapper.name == inner.name
    assert wrapper.limits is inner.limits
    assert wrapper.describe() == inner.describe()
    await wrapper.open()
    await wrapper.ping()
    await wrapper.put(ITEMS, "a", {})
    assert await wrapper.list_collections() == await inner.list_collections()
    await wrapper.aclose()
    assert (inner.opened, inner.pinged, inner.closed) == (1, 1, 1)


async def test_a_service_over_a_wrapper_closes_the_inner_driver() -> None:
    inner = TrackingDriver()
    async with DatabaseService(PrefixMiddleware(DriverWrapper(inner), "w_")) as db:
        await db.save(ITEMS, "a", {"n": 1})
    assert inner.closed == 1
    raw = DatabaseService(inner, close_driver=False)
    assert [d["_id"] for d in await raw.list_all("w_items")] == ["a"]


async def test_the_default_drop_collection_reports_a_failing_delete() -> None:
    """The ABC's fallback drop must raise, not scan and retry the same page forever."""

    class Undeletable(MemoryDriver):
        async def delete(self, collection: str, doc_id: str, *, if_rev: str | None = None) -> bool:
            raise BackendUnavailableError("the backend refuses deletes")

        async def delete_many(
            self, collection: str, deletes: Sequence[DeleteRequest]
        ) -> list[WriteOutcome]:
            return await Driver.delete_many(self, collection, deletes)

        async def drop_collection(self, collection: str) -> None:
            await Driver.drop_collection(self, collection)

    driver = Undeletable()
    await driver.put("items", "a", {"v": 1})
    assert isinstance(await driver.scan("items", after=None, limit=5), ScanPage)
    with pytest.raises(BackendUnavailableError):
        await driver.drop_collection("items")
    assert isinstance(await driver.get("items", "a"), Record)
