"""Keys Firestore reserves or refuses, nesting deeper than its 20 levels, field paths over
its 1,500 bytes, and ``find`` on what is stored encoded; checked against the stored form
through Google's own client."""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator
from typing import Any

import pytest
from google.cloud import firestore

from asyncdb._documents import MAX_DEPTH
from asyncdb._query import Condition, Query
from asyncdb._service import DatabaseService
from asyncdb.drivers.firestore import FirestoreDriver
from asyncdb.drivers.firestore._codec import JSON_PREFIX, MAX_NATIVE_DEPTH, OVERFLOW_FIELD
from asyncdb.testing import assert_same_json
from tests.backends.firestore import TEST_PROJECT


@pytest.fixture
def collection() -> str:
    return f"t{secrets.token_hex(5)}_items"


@pytest.fixture
async def driver(firestore_host: str) -> FirestoreDriver:
    return FirestoreDriver(project=TEST_PROJECT, emulator_host=firestore_host)


@pytest.fixture
async def db(driver: FirestoreDriver, collection: str) -> AsyncIterator[DatabaseService]:
    async with DatabaseService(driver) as service:
        yield service
        await service.drop_collection(collection)


@pytest.fixture
def raw(firestore_host: str, monkeypatch: pytest.MonkeyPatch) -> firestore.AsyncClient:
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", firestore_host)
    return firestore.AsyncClient(project=TEST_PROJECT)


async def stored(raw: firestore.AsyncClient, collection: str, key: str) -> dict[str, Any]:
    snapshot = await raw.collection(collection).document(key).get()
    fields = snapshot.to_dict()
    assert fields is not None
    return fields


ODD_KEYS = {"__init__": 1, "": 2, "~~": 3, "~~x": 4, "__": 5, "___": 6, "____": 7}


async def test_reserved_empty_and_escape_like_keys_round_trip_at_any_depth(
    db: DatabaseService, collection: str, raw: firestore.AsyncClient
) -> None:
    body = {
        "": "empty at the top",
        "~~top": 1,
        "m": {**ODD_KEYS, "a": {"__x__": [{"": None, "__y__": {"__z__": []}}]}},
    }
    saved = await db.save(collection, "k", body)
    assert_same_json(await db.get(collection, "k"), saved)
    assert_same_json((await db.list_all(collection))[0], saved)
    fields = await stored(raw, collection, "k")
    assert set(fields) == {"~~", "~~~~top", "m"}
    assert set(fields["m"]) == {"~~__init__", "~~", "~~~~", "~~~~x", "__", "___", "~~____", "a"}
    assert fields["m"]["a"]["~~__x__"] == [{"~~": None, "~~__y__": {"~~__z__": []}}]


async def test_find_on_escaped_top_level_keys(
    db: DatabaseService, driver: FirestoreDriver, collection: str
) -> None:
    one = await db.save(collection, "one", {"": "e", "~~top": 1, "v": 1})
    await db.save(collection, "two", {"": "f", "~~top": 2, "v": 1})
    assert await db.find(collection, {"~~top": 1}) == [one]
    assert await db.find(collection, {"~~top": {"$in": [1, 3]}}, fields=["~~top"]) == [
        {"_id": "one", "_rev": one["_rev"], "~~top": 1}
    ]
    # The face keeps "" out of queries (not portable); the driver still answers right.
    records = await driver.find(collection, Query((Condition("", ("e",), "$eq"),)), None)
    assert [record.id for record in records] == ["one"]


def maps(depth: int, leaf: Any = 1.0) -> Any:
    value = leaf
    for level in range(depth):
        value = {("k", "", "__init__")[level % 3]: value}
    return value


def lists(depth: int, leaf: Any = 1) -> Any:
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


async def test_a_document_at_the_contracts_maximum_depth_round_trips(
    db: DatabaseService, collection: str, raw: firestore.AsyncClient
) -> None:
    body = {
        "maps": maps(MAX_DEPTH),
        "lists": lists(MAX_DEPTH),
        "mixed": [maps(MAX_DEPTH - 1), {"": lists(MAX_DEPTH - 2)}],
        "tag": "deep",
    }
    saved = await db.save(collection, "deep", body)
    assert_same_json(await db.get(collection, "deep"), saved)
    assert_same_json(await db.find(collection, {"tag": "deep"}), [saved])
    updated = await db.update(collection, "deep", lambda doc: {**doc, "tag": "again"})
    assert_same_json(updated, {**saved, "_rev": updated["_rev"], "tag": "again"})
    # Firestore holds 20 levels: the 21st map is stored as tagged JSON bytes.
    value: Any = (await stored(raw, collection, "deep"))["maps"]
    for level in range(MAX_NATIVE_DEPTH - 1):
        assert isinstance(value, dict), level
        (value,) = value.values()
    assert isinstance(value, dict)
    (inner,) = value.values()
    assert isinstance(inner, bytes) and inner.startswith(JSON_PREFIX)
    assert json.loads(inner[len(JSON_PREFIX) :]) == maps(MAX_DEPTH - MAX_NATIVE_DEPTH)


async def test_a_map_whose_field_path_would_exceed_1500_bytes_is_stored_as_json(
    db: DatabaseService, collection: str, raw: firestore.AsyncClient
) -> None:
    # Firestore limits a nested field's whole path ("a.kkk…"), not only each name.
    body = {"a": {"k" * 1499: 1, "b": 2}, "c": {"d": {"é" * 749: 3}}, "ok": {"k" * 1497: 4}}
    saved = await db.save(collection, "p", body)
    assert_same_json(await db.get(collection, "p"), saved)
    fields = await stored(raw, collection, "p")
    assert fields["a"] == JSON_PREFIX + json.dumps(body["a"], separators=(",", ":")).encode()
    assert isinstance(fields["c"]["d"], bytes)  # "c.d." + 1,498 bytes is 1,502
    assert fields["ok"] == {"k" * 1497: 4}  # "ok." + 1,497 bytes is exactly 1,500


async def test_a_top_level_key_too_long_once_escaped_is_kept_and_found(
    db: DatabaseService, collection: str, raw: firestore.AsyncClient
) -> None:
    long_key = "~~" + "k" * 1498  # 1,500 bytes; escaped it would be 1,502
    one = await db.save(collection, "one", {long_key: "x", "v": 1})
    await db.save(collection, "two", {long_key: "y", "v": 1})
    assert_same_json(await db.get(collection, "one"), one)
    assert OVERFLOW_FIELD in await stored(raw, collection, "one")
    assert await db.find(collection, {long_key: "x"}) == [one]
    assert await db.find(collection, {long_key: "x", "v": 1}, fields=[long_key]) == [
        {"_id": "one", "_rev": one["_rev"], long_key: "x"}
    ]


async def test_find_on_a_1500_byte_field_name(db: DatabaseService, collection: str) -> None:
    name = "k" * 1500  # a valid field name, but the emulator refuses it as a query path
    one = await db.save(collection, "one", {name: 1})
    await db.save(collection, "two", {name: 2})
    assert await db.find(collection, {name: 1}) == [one]
    assert await db.find(collection, {name: {"$in": [1, 5]}}, fields=[name]) == [
        {"_id": "one", "_rev": one["_rev"], name: 1}
    ]


@pytest.mark.parametrize("value", [2**64, -(2**63) - 1, "lone \udc80 surrogate"])
async def test_query_values_firestore_cannot_hold_match_nothing_and_never_fail(
    db: DatabaseService, driver: FirestoreDriver, collection: str, value: Any
) -> None:
    # The face refuses these (422); should one reach the driver, it answers, never 500s.
    await db.save(collection, "one", {"v": 1, "w": 2.0**64})
    for values in [(value,), (value, 1)]:
        query = Query((Condition("v", values, "$in" if len(values) > 1 else "$eq"),))
        records = await driver.find(collection, query, None)
        assert [record.id for record in records] == (["one"] if 1 in values else [])
    if value == 2**64:  # JSON equality: 2**64 == 2.0**64
        query = Query((Condition("w", (value,), "$eq"),))
        assert [r.id for r in await driver.find(collection, query, None)] == ["one"]


async def test_arrays_in_arrays_written_by_an_earlier_version_still_read(
    db: DatabaseService, collection: str, raw: firestore.AsyncClient
) -> None:
    await (
        raw.collection(collection)
        .document("old")
        .set({"grid": [b"asyncdb:json-array:[1,2.0]", "x"], "deep": b'asyncdb:json:{"a":[[]]}'})
    )
    doc = await db.get(collection, "old")
    assert_same_json(
        doc, {"_id": "old", "_rev": doc["_rev"], "grid": [[1, 2.0], "x"], "deep": {"a": [[]]}}
    )


async def test_find_on_strings_longer_than_firestore_compares(
    db: DatabaseService, collection: str
) -> None:
    # Firestore's filters consider only a string's first 1,500 bytes; the re-check makes
    # the answer exact.
    head = "s" * 1500
    one = await db.save(collection, "one", {"v": head + "one"})
    await db.save(collection, "two", {"v": head + "two"})
    assert await db.find(collection, {"v": head + "one"}) == [one]
    assert await db.find(collection, {"v": {"$in": [head + "one", head]}}) == [one]
