"""Items another program wrote, the way the original service stored them (issue 11): written
through the raw aioboto3 client with ``_rev`` NULL or a number, numbers as plain ``N``,
natively valid odd ids, long URL-like keys, and attribute types asyncdb never writes.
asyncdb reads, lists, pages, updates and conditionally writes them correctly."""

from __future__ import annotations

import base64
import secrets
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from asyncdb._service import DatabaseService
from asyncdb.drivers.dynamodb import DynamoDBDriver
from asyncdb.errors import ConflictError
from asyncdb.middleware.prefix import PrefixMiddleware

MakeDriver = Callable[..., DynamoDBDriver]

URL_KEY = "datastore:https://example.org/" + "/".join(f"segment{i:03}" for i in range(110))
ODD_IDS = ["files:apache/tomcat", "_session_token", "a.b", "..", "__x__", URL_KEY]


def _original_item(doc_id: str, n: int) -> dict[str, Any]:
    """An agent document as the original service's DynamoDB code stored it."""
    return {
        "_id": {"S": doc_id},
        "_rev": {"NULL": True},
        "name": {"S": f"agent {n}"},
        "count": {"N": str(n)},
        "ratio": {"N": "0.25"},
        "limits": {"M": {"max": {"N": "10"}, "tags": {"L": [{"S": "a"}, {"N": "1.5"}]}}},
        "enabled": {"BOOL": True},
    }


@pytest.fixture
async def env(
    make_driver: MakeDriver,
) -> AsyncIterator[tuple[DatabaseService, Callable[[dict[str, Any]], Any]]]:
    prefix = f"t{secrets.token_hex(5)}_"
    driver = make_driver()
    table = prefix + "agents"
    async with DatabaseService(PrefixMiddleware(driver, prefix)) as db:
        await db.save("agents", "warm", {})
        await db.delete("agents", "warm")
        client = await driver._transport.client()

        async def put(item: dict[str, Any]) -> None:
            await client.put_item(TableName=table, Item=item)

        yield db, put
        await db.drop_collection("agents")


async def test_null_and_non_string_revisions_read_as_zero_everywhere(
    env: tuple[DatabaseService, Callable[[dict[str, Any]], Any]],
) -> None:
    db, put = env
    await put(_original_item("null-rev", 1))
    await put({**_original_item("number-rev", 2), "_rev": {"N": "7"}})
    await put({**_original_item("map-rev", 3), "_rev": {"M": {}}})
    await put({k: v for k, v in _original_item("no-rev", 4).items() if k != "_rev"})
    ids = ["null-rev", "number-rev", "map-rev", "no-rev"]
    for doc_id in ids:
        got = await db.get("agents", doc_id)
        assert got["_rev"] == "0" and got["_id"] == doc_id
    listed = await db.list_all("agents")  # old code: one NULL _rev failed the whole listing
    assert sorted(d["_id"] for d in listed) == sorted(ids)
    assert all(d["_rev"] == "0" for d in listed)
    assert sorted([d["_id"] async for d in db.iter_all("agents")]) == sorted(ids)
    assert set(await db.get_many("agents", ids)) == set(ids)
    assert len(await db.find("agents", {"enabled": True})) == 4
    got = await db.get("agents", "null-rev")
    assert got == {
        "_id": "null-rev",
        "_rev": "0",
        "name": "agent 1",
        "count": 1,
        "ratio": 0.25,
        "limits": {"max": 10, "tags": ["a", 1.5]},
        "enabled": True,
    }
    assert type(got["count"]) is int and type(got["limits"]["max"]) is int


async def test_a_write_based_on_revision_zero_is_still_conditional(
    env: tuple[DatabaseService, Callable[[dict[str, Any]], Any]],
) -> None:
    db, put = env
    await put(_original_item("agent", 1))
    first = await db.get("agents", "agent")
    saved = await db.save("agents", "agent", {**first, "count": 2})  # old code: a conflict
    assert saved["_rev"] != "0"
    with pytest.raises(ConflictError):  # the item has a revision now: "0" is stale
        await db.save("agents", "agent", {**first, "count": 3})
    assert (await db.get("agents", "agent"))["count"] == 2
    with pytest.raises(ConflictError):  # "0" never matches a missing item
        await db.save("agents", "missing", {"_rev": "0"})
    await put(_original_item("agent2", 5))
    with pytest.raises(ConflictError):
        await db.delete("agents", "agent2", rev="stale")
    assert await db.delete("agents", "agent2", rev="0")


async def test_update_of_original_items(
    env: tuple[DatabaseService, Callable[[dict[str, Any]], Any]],
) -> None:
    db, put = env
    await put(_original_item("agent", 1))
    updated = await db.update("agents", "agent", lambda d: d.update(count=d["count"] + 1))
    assert updated["count"] == 2 and updated["_rev"] != "0"
    assert (await db.get("agents", "agent"))["name"] == "agent 1"


async def test_natively_valid_odd_ids_are_found_under_their_own_ids_and_paged(
    env: tuple[DatabaseService, Callable[[dict[str, Any]], Any]],
) -> None:
    db, put = env
    assert len(URL_KEY.encode()) > 1024
    for n, doc_id in enumerate(ODD_IDS):
        await put(_original_item(doc_id, n))
    for n, doc_id in enumerate(ODD_IDS):
        assert (await db.get("agents", doc_id))["count"] == n
    got = await db.get_many("agents", ODD_IDS)
    assert all(got[doc_id]["_id"] == doc_id for doc_id in ODD_IDS)
    seen: list[str] = []
    cursor = None
    while True:
        page = await db.list_page("agents", limit=2, cursor=cursor)
        seen.extend(d["_id"] for d in page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert sorted(seen) == sorted(ODD_IDS)
    saved = await db.save("agents", "files:apache/tomcat", {"count": 99})
    assert (await db.get("agents", "files:apache/tomcat"))["_rev"] == saved["_rev"]


async def test_attribute_types_asyncdb_never_writes_read_as_plain_json(
    env: tuple[DatabaseService, Callable[[dict[str, Any]], Any]],
) -> None:
    db, put = env
    blob = bytes(range(8))
    await put(
        {
            "_id": {"S": "odd"},
            "tags": {"SS": ["b", "a"]},
            "scores": {"NS": ["3", "1.5", "2"]},
            "one": {"NS": ["4"]},
            "data": {"B": blob},
            "blobs": {"BS": [b"y", b"x"]},
            "nested": {"M": {"s": {"SS": ["z"]}, "b": {"B": b"\x00"}}},
        }
    )
    await put(_original_item("plain", 1))
    got = await db.get("agents", "odd")
    assert {k: v for k, v in got.items() if k[0] != "_"} == {
        "tags": ["a", "b"],
        "scores": [1.5, 2, 3],
        "one": 4.0,  # a one-element number set is how asyncdb once stored 4.0
        "data": base64.b64encode(blob).decode(),
        "blobs": [base64.b64encode(b"x").decode(), base64.b64encode(b"y").decode()],
        "nested": {"s": ["z"], "b": "AA=="},
    }
    assert sorted(d["_id"] for d in await db.list_all("agents")) == ["odd", "plain"]
    assert [d["_id"] for d in await db.find("agents", {"name": "agent 1"})] == ["plain"]
    # asyncdb can write such a document back: it stores what it read, as JSON.
    saved = await db.save("agents", "odd", got)
    assert (await db.get("agents", "odd"))["tags"] == ["a", "b"] and saved["_rev"] != "0"
