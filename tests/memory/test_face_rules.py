"""Rules of the face that are not per backend: argument errors stay ``TypeError``, the
``DATABASE_SIZE_LIMIT`` modes and their driver hooks, query validation units."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from asyncdb._documents import MAX_DOCUMENT_BYTES, MAX_NATIVE_DOCUMENT_BYTES
from asyncdb._query import parse_query
from asyncdb._service import DatabaseService
from asyncdb._sync import SyncDatabaseService
from asyncdb.drivers.base import Body, DriverLimits
from asyncdb.drivers.memory import MemoryDriver
from asyncdb.errors import (
    BackendError,
    ConfigurationError,
    DocumentTooLargeError,
    InvalidDocumentError,
    InvalidNameError,
    InvalidQueryError,
)
from asyncdb.middleware import DriverWrapper, PrefixMiddleware
from asyncdb.testing import CallRecorder

ITEMS = "items"

# --------------------------------------------------------------------------------------------
# programming errors pass through unchanged
# --------------------------------------------------------------------------------------------

WRONG_CALLS: dict[str, Any] = {
    "ensure_index": lambda db: db.ensure_index(ITEMS, ["a"], unique=True),
    "get": lambda db: db.get(ITEMS),
    "save": lambda db: db.save(ITEMS, "a", {}, if_rev="1-a"),
    "create": lambda db: db.create(ITEMS, "a"),
    "delete": lambda db: db.delete(ITEMS, "a", "1-a", "extra"),
    "list_page": lambda db: db.list_page(ITEMS, size=5),
    "get_many": lambda db: db.get_many(ITEMS, ["a"], True),
    "save_many": lambda db: db.save_many(ITEMS, [], atomic=True),
    "delete_many": lambda db: db.delete_many(),
    "find": lambda db: db.find(ITEMS, {}, sort="a"),
    "drop_collection": lambda db: db.drop_collection(),
    "ping": lambda db: db.ping(1),
    "open": lambda db: db.open(timeout=1),
}


@pytest.mark.parametrize("name", sorted(WRONG_CALLS))
async def test_a_wrong_argument_raises_the_plain_type_error(name: str) -> None:
    recorder = CallRecorder(MemoryDriver())
    db = DatabaseService(recorder)
    with pytest.raises(TypeError) as caught:
        await WRONG_CALLS[name](db)
    assert not isinstance(caught.value, BackendError)
    assert caught.value.__cause__ is None
    assert recorder.calls == []
    await db.aclose()


async def test_a_wrong_argument_on_a_closed_service_is_still_a_type_error() -> None:
    db = DatabaseService(MemoryDriver())
    await db.aclose()
    with pytest.raises(TypeError):
        await db.ensure_index(ITEMS, ["a"], unique=True)  # type: ignore[call-arg]


def test_the_sync_facade_passes_the_type_error_through() -> None:
    with SyncDatabaseService(DatabaseService(MemoryDriver())) as sdb:
        with pytest.raises(TypeError):
            sdb.ensure_index(ITEMS, ["a"], unique=True)  # type: ignore[call-arg]
        sdb.ensure_index(ITEMS, ["a"])


async def test_a_type_error_inside_the_driver_is_still_a_backend_error() -> None:
    class Buggy(MemoryDriver):
        async def get(self, collection: str, doc_id: str) -> Any:
            raise TypeError("a bug in the driver, not the caller's mistake")

    db = DatabaseService(Buggy())
    with pytest.raises(BackendError) as caught:
        await db.get(ITEMS, "a")
    assert isinstance(caught.value.__cause__, TypeError)


# --------------------------------------------------------------------------------------------
# DATABASE_SIZE_LIMIT
# --------------------------------------------------------------------------------------------


class LimitedDriver(MemoryDriver):
    """A memory driver with a small native limit learnt in ``open()``, measuring bodies
    by their JSON text (as the default does) and counting calls."""

    limits = dataclasses.replace(MemoryDriver.limits, native_document_bytes=None)

    def __init__(self, learnt_limit: int = 1000) -> None:
        super().__init__()
        self.learnt_limit = learnt_limit
        self.opened = 0

    async def open(self) -> None:
        self.opened += 1
        self.limits = dataclasses.replace(
            type(self).limits, native_document_bytes=self.learnt_limit
        )


def _native(driver: Any) -> tuple[DatabaseService, CallRecorder]:
    recorder = CallRecorder(PrefixMiddleware(driver, "p_"))
    return DatabaseService(recorder, size_limit="native"), recorder


def test_the_default_native_measure_is_compact_json_plus_the_id() -> None:
    body: Body = {"a": [1, 2.5, None, True], "é": "ü"}
    text = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
    assert MemoryDriver().native_document_size("ïd", body) == len(text.encode()) + 3
    assert MemoryDriver.limits.native_document_bytes is None


def test_a_bad_size_limit_for_the_service_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="portable, native"):
        DatabaseService(MemoryDriver(), size_limit="huge")


async def test_portable_is_the_default_and_refuses_over_400000_bytes() -> None:
    db = DatabaseService(MemoryDriver())
    assert db.size_limit == "portable"
    with pytest.raises(DocumentTooLargeError, match=str(MAX_DOCUMENT_BYTES)):
        await db.save(ITEMS, "big", {"blob": "x" * MAX_DOCUMENT_BYTES})


async def test_native_on_memory_stores_what_portable_refuses_up_to_the_hard_cap() -> None:
    db, recorder = _native(MemoryDriver())
    blob = "x" * (2 * MAX_DOCUMENT_BYTES)
    saved = await db.save(ITEMS, "big", {"blob": blob})
    assert (await db.get(ITEMS, "big"))["blob"] == blob and saved["_rev"]
    recorder.calls.clear()
    with pytest.raises(DocumentTooLargeError) as caught:
        await db.save(ITEMS, "huge", {"blob": "x" * MAX_NATIVE_DOCUMENT_BYTES})
    assert caught.value.status_code == 413
    assert str(MAX_NATIVE_DOCUMENT_BYTES) in str(caught.value)
    assert str(MAX_NATIVE_DOCUMENT_BYTES + len('{"blob":""}') + 4) in str(caught.value)
    assert recorder.calls == []


async def test_native_enforces_the_limit_the_driver_learns_in_open_before_io() -> None:
    driver = LimitedDriver(learnt_limit=1000)
    db, recorder = _native(driver)
    # {"blob":"..."} is 11 bytes plus the blob, and the id "a" one more.
    with pytest.raises(DocumentTooLargeError) as caught:
        await db.save(ITEMS, "a", {"blob": "x" * 989})
    assert "1001 bytes" in str(caught.value) and "limit is 1000" in str(caught.value)
    assert "DATABASE_SIZE_LIMIT=native" in str(caught.value)
    assert recorder.calls == [] and driver.opened == 1
    assert (await db.save(ITEMS, "a", {"blob": "x" * 988}))["blob"] == "x" * 988
    with pytest.raises(DocumentTooLargeError):
        await db.create(ITEMS, "b", {"blob": "x" * 989})
    with pytest.raises(DocumentTooLargeError):
        await db.update(ITEMS, "a", lambda doc: {**doc, "blob": "x" * 989})
    assert driver.opened == 1  # learnt once


async def test_native_in_save_many_fails_only_the_documents_over_the_limit() -> None:
    db, recorder = _native(LimitedDriver(learnt_limit=100))
    result = await db.save_many(
        ITEMS,
        [{"_id": "ok", "v": 1}, {"_id": "big", "blob": "x" * 200}, {"_id": "\x00"}, {"_id": "ok2"}],
    )
    assert [outcome.ok for outcome in result] == [True, False, False, True]
    assert isinstance(result[1].error, DocumentTooLargeError)
    assert isinstance(result[2].error, InvalidNameError)
    assert sorted(doc["_id"] for doc in await db.list_all(ITEMS)) == ["ok", "ok2"]
    recorder.calls.clear()
    refused = await db.save_many(ITEMS, [{"_id": "big", "blob": "x" * 200}])
    assert isinstance(refused[0].error, DocumentTooLargeError) and recorder.calls == []


async def test_native_uses_the_driver_s_own_measure() -> None:
    class Weighty(MemoryDriver):
        def native_document_size(self, doc_id: str, body: Body) -> int:
            return 10_000 * len(body)

    weighty = Weighty()
    weighty.limits = dataclasses.replace(MemoryDriver.limits, native_document_bytes=25_000)
    db, _ = _native(weighty)
    await db.save(ITEMS, "two", {"a": 1, "b": 2})
    with pytest.raises(DocumentTooLargeError, match="30000 bytes"):
        await db.save(ITEMS, "three", {"a": 1, "b": 2, "c": 3})


async def test_native_keeps_every_other_rule_of_the_contract() -> None:
    db, recorder = _native(MemoryDriver())
    with pytest.raises(InvalidDocumentError):
        await db.save(ITEMS, "a", {"v": float("nan")})
    with pytest.raises(InvalidNameError):
        await db.save(ITEMS, "a\x00", {"v": 1})
    assert recorder.calls == []


async def test_check_document_refuses_what_save_would_without_writing() -> None:
    db, recorder = _native(LimitedDriver(learnt_limit=100))
    assert await db.check_document("a", {"v": 1, "_rev": ""}) == {"_id": "a", "v": 1}
    with pytest.raises(DocumentTooLargeError):
        await db.check_document("a", {"blob": "x" * 200})
    with pytest.raises(InvalidDocumentError):
        await db.check_document("a", {"_rev": "bad rev"})
    portable = DatabaseService(MemoryDriver())
    assert await portable.check_document("a", {"blob": "x" * 200}) == {
        "_id": "a",
        "blob": "x" * 200,
    }
    with pytest.raises(DocumentTooLargeError):
        await portable.check_document("a", {"blob": "x" * MAX_DOCUMENT_BYTES})
    assert recorder.calls == []


async def test_a_wrapper_reads_the_limits_its_driver_learnt_in_open() -> None:
    inner = LimitedDriver(learnt_limit=77)
    wrapper = DriverWrapper(inner)
    assert wrapper.limits.native_document_bytes is None
    await wrapper.open()
    assert wrapper.limits.native_document_bytes == 77
    assert PrefixMiddleware(inner, "x_").limits is inner.limits
    own = DriverLimits(max_write_batch=3)
    wrapper.limits = own
    assert wrapper.limits is own and inner.limits is not own
    assert wrapper.native_document_size("a", {"b": 1}) == inner.native_document_size("a", {"b": 1})


# --------------------------------------------------------------------------------------------
# query validation (the suite checks it per backend; these pin the messages)
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ({"a": "\ud800"}, "unicode"),
        ({"a": {"$in": [1, "\udfff"]}}, "unicode"),
        ({"\ud800": 1}, "unicode"),
        ({"a": 2**63}, "64-bit"),
        ({"a": float("inf")}, "JSON number"),
        ({"a": 1e200}, "portable range"),
        ({"k" * 1501: 1}, "1501 bytes"),
        ({"__init__": 1}, "reserved"),
        ({"": 1}, "non-empty"),
    ],
)
def test_query_refusals_say_why(where: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidQueryError, match=message):
        parse_query(where)


def test_query_values_are_normalised_like_stored_ones() -> None:
    query = parse_query({"a": -0.0, "b": True, "c": {"$in": [1, 2.5, "x", None]}})
    assert [c.values for c in query.conditions] == [(0.0,), (True,), (1, 2.5, "x", None)]
    assert str(query.conditions[0].values[0]) == "0.0"
    assert parse_query({"k" * 1500: 1}).conditions[0].field == "k" * 1500
    assert parse_query({}, ["é" * 750]).fields == ("é" * 750,)
