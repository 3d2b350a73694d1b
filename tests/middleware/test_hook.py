"""``DriverWrapper.around``: every I/O method of the Driver ABC goes through the one hook."""

from __future__ import annotations

import inspect
from typing import Any, TypeVar

import pytest

from asyncdb._query import Query, parse_query
from asyncdb.drivers.base import Driver
from asyncdb.drivers.memory import MemoryDriver
from asyncdb.middleware import DriverCall, DriverWrapper, PrefixMiddleware, Proceed
from asyncdb.testing import CallRecorder
from tests.middleware._fakes import NO_IO, Arg, Echo, Spy, arguments_for, io_methods

T = TypeVar("T")

ITEMS = "items"


def test_the_abc_s_io_methods_are_found() -> None:
    # Guards the introspection itself: an empty or partial list would make the tests
    # below vacuous.
    names = io_methods()
    assert {"get", "put", "delete", "scan", "get_many", "find", "open", "aclose"} <= set(names)
    assert not set(names) & NO_IO


@pytest.mark.parametrize("operation", io_methods())
def test_every_io_method_is_a_coroutine_the_wrapper_overrides(operation: str) -> None:
    # A coroutine, not an async iterator: the hook sees one round trip per call (a scan
    # is one call per page). A streaming method would need its own rule first.
    assert inspect.iscoroutinefunction(getattr(Driver, operation))
    assert operation in vars(DriverWrapper), f"DriverWrapper does not route {operation}"
    wrapped = inspect.signature(getattr(DriverWrapper, operation))
    assert wrapped == inspect.signature(getattr(Driver, operation))


@pytest.mark.parametrize("operation", io_methods())
async def test_every_io_method_goes_through_the_hook_to_the_inner_driver(operation: str) -> None:
    inner = Echo()
    spy = Spy(inner.as_driver())
    args, kwargs = arguments_for(operation)
    result = await getattr(spy, operation)(*args, **kwargs)

    returns_nothing = inspect.signature(getattr(Driver, operation)).return_annotation == "None"
    assert result == (None if returns_nothing else ("result of", operation))
    assert inner.seen == [(operation, args, kwargs)]  # exactly the arguments given
    [call] = spy.calls
    assert call.operation == operation
    has_collection = bool(args) and isinstance(args[0], Arg) and args[0].name == "collection"
    if has_collection:
        assert (call.collection, call.args) == (args[0], args[1:])
    else:
        assert (call.collection, call.args) == (None, args)
    assert dict(call.kwargs) == kwargs


async def test_methods_without_io_bypass_the_hook() -> None:
    inner = Echo()
    spy = Spy(inner.as_driver())
    assert spy.describe() == "echo driver"
    assert spy.native_document_size("a", {}) == 7
    assert spy.limits is Echo.limits
    assert spy.name == "echo"
    assert spy.calls == [] and inner.seen == []


async def test_a_middleware_may_pass_on_a_changed_call() -> None:
    class Renaming(DriverWrapper):
        async def around(self, call: DriverCall[T], proceed: Proceed[T]) -> T:
            if call.collection is not None:
                call = call.with_collection(call.collection.upper())
            return await proceed(call)

    inner = Echo()
    await Renaming(inner.as_driver()).put("items", "a", {"n": 1}, if_rev="1-x")
    assert inner.seen == [("put", ("ITEMS", "a", {"n": 1}), {"if_rev": "1-x", "if_absent": False})]


async def test_a_middleware_that_raises_before_proceeding_stops_the_call() -> None:
    class Refusing(DriverWrapper):
        async def around(self, call: DriverCall[T], proceed: Proceed[T]) -> T:
            raise PermissionError(call.operation)

    inner = Echo()
    with pytest.raises(PermissionError, match="delete"):
        await Refusing(inner.as_driver()).delete(ITEMS, "a")
    assert inner.seen == []


async def test_the_hook_sees_the_inner_driver_s_error() -> None:
    seen: list[BaseException] = []

    class Watching(DriverWrapper):
        async def around(self, call: DriverCall[T], proceed: Proceed[T]) -> T:
            try:
                return await proceed(call)
            except Exception as exc:
                seen.append(exc)
                raise

    failure = RuntimeError("backend down")
    with pytest.raises(RuntimeError, match="backend down"):
        await Watching(Echo(fail=failure).as_driver()).get(ITEMS, "a")
    assert seen == [failure]


async def test_stacked_middleware_run_outermost_first() -> None:
    order: list[str] = []

    class Named(DriverWrapper):
        def __init__(self, inner: Driver, label: str) -> None:
            super().__init__(inner)
            self.label = label

        async def around(self, call: DriverCall[T], proceed: Proceed[T]) -> T:
            order.append(f"{self.label}>")
            try:
                return await proceed(call)
            finally:
                order.append(f"<{self.label}")

    stack = Named(Named(MemoryDriver(), "inner"), "outer")
    await stack.put(ITEMS, "a", {})
    assert order == ["outer>", "inner>", "<inner", "<outer"]


async def test_prefix_rewrites_names_in_the_hook_and_strips_them_from_listings() -> None:
    memory = MemoryDriver()
    await memory.put("other_x", "a", {})
    below = Spy(memory)
    prefixed = PrefixMiddleware(below, "p_")
    await prefixed.put(ITEMS, "a", {"n": 1})
    assert (await prefixed.get(ITEMS, "a")) is not None
    assert await prefixed.list_collections() == [ITEMS]
    assert [(c.operation, c.collection) for c in below.calls] == [
        ("put", "p_items"),
        ("get", "p_items"),
        ("list_collections", None),
    ]


def test_prefix_asks_can_find_about_the_prefixed_collection() -> None:
    # A driver knows its indexes by the names it stores: can_find (no I/O, so not routed
    # through the hook) must be renamed as every other call is.
    class IndexedOnOne(MemoryDriver):
        def can_find(self, collection: str, query: Query) -> bool:
            return collection == "p_items"

    prefixed = PrefixMiddleware(IndexedOnOne(), "p_")
    query = parse_query({"n": {"$gt": 1}}, None, ["n"])
    assert prefixed.can_find(ITEMS, query)
    assert not prefixed.can_find("p_items", query)


async def test_call_recorder_records_data_calls_not_the_lifecycle() -> None:
    recorder = CallRecorder(MemoryDriver())
    await recorder.open()
    await recorder.ping()
    await recorder.put(ITEMS, "a", {})
    assert await recorder.list_collections() == [ITEMS]
    await recorder.drop_collection(ITEMS)
    await recorder.aclose()
    assert recorder.calls == [("put", ITEMS), ("drop_collection", ITEMS)]
    assert recorder.collections == {ITEMS}


def test_a_driver_call_is_immutable_and_renamed_by_copy() -> None:
    call: DriverCall[Any] = DriverCall("get", ITEMS, ("a",))
    renamed = call.with_collection("other")
    assert (call.collection, renamed.collection, renamed.args) == (ITEMS, "other", ("a",))
    with pytest.raises(AttributeError):
        call.collection = "x"  # type: ignore[misc]
    assert dict(call.kwargs) == {}
