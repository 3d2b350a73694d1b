"""What asyncdb stores on DynamoDB and how it reads it back (issue 11): integral floats as
plain numbers with a marker that applies only to the values it was written for, the old
number-set encoding still read, the empty key, the contract's nesting depth, long ids
under digest keys, and the item size measure of ``DATABASE_SIZE_LIMIT=native``."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from asyncdb._documents import MAX_DOCUMENT_BYTES, prepare_document
from asyncdb._service import DatabaseService
from asyncdb.drivers.dynamodb import DynamoDBDriver
from asyncdb.drivers.dynamodb._codec import (
    FLOATS_ATTRIBUTE,
    ORIGINAL_ID_ATTRIBUTE,
    canonical_number,
)
from asyncdb.drivers.dynamodb._ids import DIGEST_PREFIX, storage_key
from asyncdb.drivers.dynamodb._items import ITEM_LIMIT, build_item, item_size, record
from asyncdb.errors import DocumentTooLargeError, NotFoundError
from asyncdb.middleware.prefix import PrefixMiddleware
from asyncdb.testing import assert_same_json
from tests.backends.dynamodb import DynamoDBEndpoint

MakeDriver = Callable[..., DynamoDBDriver]


class Raw:
    """The raw aioboto3 client on the service's table: what another program sees."""

    def __init__(self, driver: DynamoDBDriver, table: str) -> None:
        self.driver = driver
        self.table = table

    async def item(self, stored_key: str) -> dict[str, Any]:
        client = await self.driver._transport.client()
        response = await client.get_item(
            TableName=self.table, Key={"_id": {"S": stored_key}}, ConsistentRead=True
        )
        item: dict[str, Any] = response["Item"]
        return item

    async def put(self, item: dict[str, Any]) -> None:
        client = await self.driver._transport.client()
        await client.put_item(TableName=self.table, Item=item)


@pytest.fixture
async def env(make_driver: MakeDriver) -> AsyncIterator[tuple[DatabaseService, Raw]]:
    prefix = f"t{secrets.token_hex(5)}_"
    driver = make_driver()
    async with DatabaseService(PrefixMiddleware(driver, prefix)) as db:
        await db.save("docs", "warm", {})
        yield db, Raw(driver, prefix + "docs")
        await db.drop_collection("docs")


def _body(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k not in ("_id", "_rev")}


# -- integral floats -----------------------------------------------------------------------
async def test_integral_floats_are_plain_numbers_with_a_marker(
    env: tuple[DatabaseService, Raw],
) -> None:
    db, raw = env
    doc = {"f": 2.0, "i": 2, "l": [1.0, 1, {"z": -0.0}], "big": 1e16, "frac": 0.5}
    await db.save("docs", "x", doc)
    item = await raw.item("x")
    # Plain numbers ("2": DynamoDB normalises; moto keeps "2.0"), no one-element sets.
    assert item["f"]["N"] in ("2", "2.0") and item["i"] == {"N": "2"}
    assert all("NS" not in value for value in item["l"]["L"])  # old encoding: {"NS": ["1.0"]}
    assert FLOATS_ATTRIBUTE in item
    got = await db.get("docs", "x")
    assert_same_json(_body(got), doc)
    assert type(got["f"]) is float and type(got["i"]) is int and type(got["l"][1]) is int
    (listed,) = [d for d in await db.list_all("docs") if d["_id"] == "x"]
    assert_same_json(listed, got)


async def test_another_programs_update_copying_the_marker_never_makes_an_int_a_float(
    env: tuple[DatabaseService, Raw],
) -> None:
    db, raw = env
    await db.save("docs", "x", {"a": 1.0, "b": 5})
    item = await raw.item("x")
    # {**existing, "a": 2}: the other program keeps _rev and the marker as they were.
    await raw.put({**item, "a": {"N": "2"}})
    got = await db.get("docs", "x")
    assert got["a"] == 2 and type(got["a"]) is int
    assert type(got["b"]) is int


async def test_a_copied_marker_still_applies_to_an_item_whose_values_are_unchanged(
    env: tuple[DatabaseService, Raw],
) -> None:
    db, raw = env
    await db.save("docs", "x", {"a": 1.0, "b": [2, 3.0]})
    item = await raw.item("x")
    await raw.put({**item, "_rev": {"S": "other"}})  # a rewrite with the same values
    got = await db.get("docs", "x")
    assert type(got["a"]) is float and type(got["b"][0]) is int and type(got["b"][1]) is float


async def test_items_of_the_old_number_set_encoding_read_as_floats(
    env: tuple[DatabaseService, Raw],
) -> None:
    db, raw = env
    await raw.put(
        {
            "_id": {"S": "old"},
            "_rev": {"S": "abcdefghijklmnop"},
            "f": {"NS": ["1.0"]},
            "l": {"L": [{"NS": ["16"]}, {"N": "3"}]},
        }
    )
    got = await db.get("docs", "old")
    assert _body(got) == {"f": 1.0, "l": [16.0, 3]}
    assert type(got["f"]) is float and type(got["l"][1]) is int
    assert [d["_id"] for d in await db.find("docs", {"f": 1})] == ["old"]


async def test_twenty_thousand_integral_floats_near_the_size_limit(
    env: tuple[DatabaseService, Raw],
) -> None:
    db, _ = env
    floats = [float(i % 97) for i in range(20_000)]
    mixed = [v if i % 2 else int(v) for i, v in enumerate(floats)]
    # The longest filler the face's portable measure accepts: the document is at its limit.
    low, high = 0, MAX_DOCUMENT_BYTES
    while low < high:
        middle = (low + high + 1) // 2
        try:
            prepare_document({"f": mixed, "s": "x" * middle}, "big")
            low = middle
        except DocumentTooLargeError:
            high = middle - 1
    doc: dict[str, Any] = {"f": mixed, "s": "x" * low}
    item = build_item("big", doc, "r" * 16)
    assert FLOATS_ATTRIBUTE in item and item_size(item) <= ITEM_LIMIT
    saved = await db.save("docs", "big", doc)
    got = await db.get("docs", "big")
    assert got["_rev"] == saved["_rev"]
    assert [type(v) for v in got["f"]] == [type(v) for v in mixed]
    assert got["f"] == mixed


async def test_floats_fall_back_to_number_sets_when_the_marker_would_not_fit(
    env: tuple[DatabaseService, Raw], dynamodb_endpoint: DynamoDBEndpoint
) -> None:
    db, _ = env
    floats = [1.0, 2] * 3000
    bare = build_item("fb", {"f": [2] * 6000, "s": ""}, "r" * 16)
    doc = {"f": floats, "s": "x" * (ITEM_LIMIT - item_size(bare) - 50)}
    item = build_item("fb", doc, "r" * 16)
    assert FLOATS_ATTRIBUTE not in item and item["f"]["L"][0] == {"NS": ["1.0"]}
    assert item_size(item) <= ITEM_LIMIT
    if dynamodb_endpoint.kind == "moto":
        return  # moto refuses items 4.6 KB short of AWS's limit
    driver = db.driver
    await driver.put("docs", "fb", doc)  # below the face: the document is over its measure
    got = await driver.get("docs", "fb")
    assert got is not None and got.body["f"] == floats
    assert [type(v) for v in got.body["f"][:4]] == [float, int, float, int]


# -- keys, nesting, ids ---------------------------------------------------------------------
async def test_empty_and_dunder_keys_round_trip_at_any_depth(
    env: tuple[DatabaseService, Raw],
) -> None:
    db, raw = env
    doc = {"": 1.0, "mod": {"": "empty", "__init__": [1, {"": None}]}, "m": {"__init__": {"": 2}}}
    await db.save("docs", "k", doc)
    got = await db.get("docs", "k")
    assert_same_json(_body(got), doc)
    item = await raw.item("k")
    # Other programs still see plain maps wherever DynamoDB can hold one.
    assert item["m"]["M"]["__init__"].keys() == {"B"}  # a map with the empty key: JSON binary
    assert "M" in item["m"]


def _nested(depth: int) -> Any:
    value: Any = {"leaf": 1.0, "n": 7}
    for level in range(depth - 1):
        value = {"d": value, "i": level} if level % 2 else [value, 2.0]
    return value


@pytest.mark.parametrize("depth", [29, 30, 31, 32])
async def test_the_contracts_deepest_documents_round_trip(
    env: tuple[DatabaseService, Raw], depth: int
) -> None:
    db, _ = env
    doc = {"deep": _nested(depth)}
    await db.save("docs", f"deep{depth}", doc)
    assert_same_json(_body(await db.get("docs", f"deep{depth}")), doc)


@pytest.mark.parametrize("size", [2048, 2049, 4096])
async def test_long_ids_are_stored_under_a_digest_and_read_back_as_themselves(
    env: tuple[DatabaseService, Raw], size: int
) -> None:
    db, raw = env
    doc_id = "files:apache/tomcat/" + "é" * ((size - 20) // 2) + "x" * ((size - 20) % 2)
    assert len(doc_id.encode()) == size
    saved = await db.save("docs", doc_id, {"v": 1})
    assert saved["_id"] == doc_id
    got = await db.get("docs", doc_id)
    assert got["_id"] == doc_id and got["v"] == 1
    key = storage_key(doc_id)
    item = await raw.item(key)
    if size <= 2048:
        assert key == doc_id and ORIGINAL_ID_ATTRIBUTE not in item
    else:
        assert key.startswith(DIGEST_PREFIX) and item[ORIGINAL_ID_ATTRIBUTE] == {"S": doc_id}
    assert doc_id in [d["_id"] for d in await db.list_all("docs")]
    assert (await db.get_many("docs", [doc_id]))[doc_id]["v"] == 1
    await db.save("docs", doc_id, {**got, "v": 2})
    assert await db.delete("docs", doc_id, rev=(await db.get("docs", doc_id))["_rev"])
    assert await db.get_many("docs", [doc_id]) == {doc_id: None}


async def test_a_digest_key_whose_stored_id_differs_is_not_that_id(
    env: tuple[DatabaseService, Raw],
) -> None:
    db, raw = env
    doc_id = "a" * 3000
    await raw.put(
        {
            "_id": {"S": storage_key(doc_id)},
            ORIGINAL_ID_ATTRIBUTE: {"S": "b" * 3000},
            "v": {"N": "1"},
        }
    )
    with pytest.raises(NotFoundError):
        await db.get("docs", doc_id)
    assert doc_id not in [d["_id"] for d in await db.list_all("docs")]


async def test_pages_walk_long_and_short_ids_completely_once(
    env: tuple[DatabaseService, Raw],
) -> None:
    db, _ = env
    ids = [f"s{i}" for i in range(15)] + [f"{i}" + "L" * 3000 for i in range(15)] + ["warm"]
    assert (await db.save_many("docs", [{"_id": i} for i in ids if i != "warm"])).ok
    seen: list[str] = []
    cursor = None
    while True:
        page = await db.list_page("docs", limit=4, cursor=cursor)
        seen.extend(d["_id"] for d in page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert sorted(seen) == sorted(ids)


# -- size ---------------------------------------------------------------------------------
def test_native_size_is_dynamodbs_documented_measure() -> None:
    driver = DynamoDBDriver()
    assert driver.limits.native_document_bytes == 409_600
    # _id "a" (3+1), _rev (4+16), "s" (1+10), "n": 12345 (1 + 3+1), "l": [true] (1 + 3+1+1)
    size = driver.native_document_size("a", {"s": "x" * 10, "n": 12345, "l": [True]})
    assert size == 4 + 20 + 11 + 5 + 6
    # the marker and a digest key's original id count too
    assert driver.native_document_size("a", {"f": 1.0}) > 4 + 20 + 3
    long_id = "i" * 3000
    assert driver.native_document_size(long_id, {}) == 3 + 72 + 11 + 3000 + 20


async def test_native_limit_is_enforced_before_io_at_the_exact_boundary(
    make_driver: MakeDriver, dynamodb_endpoint: DynamoDBEndpoint
) -> None:
    prefix = f"t{secrets.token_hex(5)}_"
    driver = make_driver()
    async with DatabaseService(PrefixMiddleware(driver, prefix), size_limit="native") as db:
        fits = 409_600 - driver.native_document_size("a", {"s": ""})
        with pytest.raises(DocumentTooLargeError, match=r"409600|409,600"):
            await db.save("docs", "a", {"s": "x" * (fits + 1)})
        assert await db.list_all("docs") == []  # refused before any I/O: no table either
        if dynamodb_endpoint.kind != "moto":  # moto refuses items 4.6 KB short of AWS's limit
            saved = await db.save("docs", "a", {"s": "x" * fits})
            assert len((await db.get("docs", "a"))["s"]) == fits and saved["_rev"]
        await db.drop_collection("docs")


def test_the_marker_survives_dynamodbs_number_normalisation() -> None:
    """AWS stores "1.0" as "1" and "9.99e+125" as "9.99E+125": the fingerprint is over
    normalised numbers, so the marker still applies (moto keeps the spelling it got)."""
    doc = {"f": [0.0, 1.0, 2], "h": [1e16, -0.0, 9.99e125, 1e-130, 0.1, 10**18]}
    item = build_item("a", doc, "r" * 16)

    def normalised(value: dict[str, Any]) -> dict[str, Any]:
        if "N" in value:
            return {"N": canonical_number(value["N"])}
        if "M" in value:
            return {"M": {k: normalised(v) for k, v in value["M"].items()}}
        if "L" in value:
            return {"L": [normalised(v) for v in value["L"]]}
        return dict(value)

    got = record({name: normalised(value) for name, value in item.items()})
    assert got is not None
    assert got.body == doc
    assert [type(v) for v in got.body["f"]] == [float, float, int]
    assert [type(v) for v in got.body["h"]] == [float] * 5 + [int]
