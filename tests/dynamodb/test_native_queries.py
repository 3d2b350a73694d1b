"""Ordered, ranged and paged queries on DynamoDB run from the global secondary indexes that
``ensure_index`` makes (``asyncdb/drivers/dynamodb/_indexes.py``, ``_native.py``), with
exactly the reference evaluator's answer. The proxy's request log shows what the driver
asked: ``Query`` on the index's GSI, consistent ``BatchGetItem`` re-reads, never ``Scan``.

dynalite creates a GSI only with its table (it accepts UpdateTable's ``Create`` and
ignores it), so the tests that add an index to a table holding documents prove the native
read on moto only; on dynalite they check that the answer is still the reference one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import pytest

from asyncdb._service import DatabaseService
from asyncdb.drivers.dynamodb._registry import KEY_BUDGET, REGISTRY_KEY
from asyncdb.errors import InvalidDocumentError
from asyncdb.testing._suite.ordering import expected
from tests.backends.dynamodb import DynamoDBEndpoint
from tests.dynamodb._indexed import adds_gsis, assert_from_index, chunks, raw_item, sessions, walk
from tests.dynamodb._proxy import FaultProxy, Forward, Reply


# -- the three application shapes --------------------------------------------------------
async def test_sessions_newest_first_20_at_a_time_from_the_index(
    db: DatabaseService, proxy: FaultProxy
) -> None:
    await db.ensure_index("sessions", ["user_id"], order_by=["-created"])
    docs = sessions(70)
    assert (await db.save_many("sessions", docs)).ok
    proxy.requests.clear()
    want = expected(docs, {"user_id": "u1"}, ["-created"])
    assert len(want) > 20
    assert await walk(db, "sessions", {"user_id": "u1"}, ["-created"], 20) == chunks(want, 20)
    queries = assert_from_index(proxy)
    assert all(q["Limit"] <= 1000 for q in queries)
    # The first page asks for what one page needs, not for the whole partition.
    assert queries[0]["Limit"] <= 23


async def test_pending_tickets_in_creation_order_from_the_index(
    db: DatabaseService, proxy: FaultProxy
) -> None:
    await db.ensure_index("tickets", ["status"], order_by=["created"])
    docs = [
        {
            "_id": f"t{i:02d}",
            "status": ["pending", "done", "Pending"][i % 3],
            "created": (i * 7) % 23,
        }
        for i in range(45)
    ]
    assert (await db.save_many("tickets", docs)).ok
    proxy.requests.clear()
    found = await db.find("tickets", {"status": "pending"}, order_by=["created"], strict=True)
    assert [d["_id"] for d in found] == expected(docs, {"status": "pending"}, ["created"])
    assert [q["ScanIndexForward"] for q in assert_from_index(proxy)] == [True]
    # The same index read backwards serves the reverse order.
    proxy.requests.clear()
    found = await db.find("tickets", {"status": "pending"}, order_by=["-created"], strict=True)
    assert [d["_id"] for d in found] == expected(docs, {"status": "pending"}, ["-created"])
    assert [q["ScanIndexForward"] for q in assert_from_index(proxy)] == [False]


async def test_a_users_store_entries_in_one_namespace_from_the_index(
    db: DatabaseService, proxy: FaultProxy
) -> None:
    await db.ensure_index("store", ["user_id", "namespace"])
    docs = [
        {"_id": f"e{i:02d}", "user_id": f"u{i % 3}", "namespace": f"n{i % 2}", "v": i}
        for i in range(40)
    ]
    assert (await db.save_many("store", docs)).ok
    where = {"user_id": "u1", "namespace": "n1"}
    proxy.requests.clear()
    found = await db.find("store", where)
    assert sorted(d["_id"] for d in found) == expected(docs, where)
    assert await walk(db, "store", where, None, 3) == chunks(expected(docs, where), 3)
    queries = assert_from_index(proxy)
    # user_id is the partition key, namespace the start of the sort key.
    assert all(" BETWEEN " in q["KeyConditionExpression"] for q in queries)


# -- an index added to a table that holds documents ----------------------------------------
async def test_documents_written_before_ensure_index_are_keyed_and_read_back_identical(
    db: DatabaseService, proxy: FaultProxy, dynamodb_endpoint: DynamoDBEndpoint
) -> None:
    docs = [
        {"_id": f"t{i:02d}", "status": ["pending", "done"][i % 2], "created": i % 5 + 0.5, "f": 2.0}
        for i in range(30)
    ]
    saved = {d["_id"]: d["_rev"] for d in [await db.save("tickets", d["_id"], d) for d in docs]}
    await db.ensure_index("tickets", ["status"], order_by=["created"])
    proxy.requests.clear()
    found = await db.find("tickets", {"status": "pending"}, order_by=["created"])
    assert [d["_id"] for d in found] == expected(docs, {"status": "pending"}, ["created"])
    if adds_gsis(dynamodb_endpoint):
        assert_from_index(proxy)
    # The backfill changed neither a revision nor a value (2.0 is still a float).
    for doc in docs:
        got = await db.get("tickets", doc["_id"])
        assert got == {**doc, "_rev": saved[doc["_id"]]}
        assert type(got["f"]) is float


async def test_ensure_index_twice_and_concurrently_is_one_gsi_and_one_entry(
    db: DatabaseService,
    proxy: FaultProxy,
    make_db: Callable[..., DatabaseService],
    dynamodb_endpoint: DynamoDBEndpoint,
) -> None:
    if not adds_gsis(dynamodb_endpoint):
        pytest.skip("dynalite cannot add a GSI to an existing table")
    await db.save("tickets", "a", {"status": "pending", "created": 1})
    other = make_db()
    await asyncio.gather(
        db.ensure_index("tickets", ["status"], order_by=["created"]),
        other.ensure_index("tickets", ["status"], order_by=["created"]),
    )
    proxy.requests.clear()
    await db.ensure_index("tickets", ["status"], order_by=["created"])
    assert [op for op, _ in proxy.requests] == ["GetItem"]  # ready: one registry read
    raw = await raw_item(other, "tickets", REGISTRY_KEY)
    assert raw is not None and len(raw["indexes"]["M"]) == 1


# -- exact order ---------------------------------------------------------------------------
async def test_long_strings_past_their_share_of_the_key_order_exactly(
    db: DatabaseService, proxy: FaultProxy
) -> None:
    await db.ensure_index("items", ["kind"], order_by=["name"])
    share = KEY_BUDGET // 3
    stem = "é" * share  # longer than the share in bytes: every name is cut in its key
    names = [stem + tail for tail in ("b", "a", "", "ab", "\U0001f600", "B", "a\x00")]
    docs = [{"_id": f"i{i}", "kind": "k", "name": name} for i, name in enumerate(names)]
    docs += [{"_id": "short", "kind": "k", "name": "é"}, {"_id": "num", "kind": "k", "name": 3}]
    assert (await db.save_many("items", docs)).ok
    proxy.requests.clear()
    for order in (["name"], ["-name"]):
        found = await db.find("items", {"kind": "k"}, order_by=order, strict=True)
        assert [d["_id"] for d in found] == expected(docs, {"kind": "k"}, order)
        ranged = {"kind": "k", "name": {"$gt": stem + "a", "$lte": stem + "b"}}
        found = await db.find("items", ranged, order_by=order, strict=True)
        assert [d["_id"] for d in found] == expected(docs, ranged, order)
        assert await walk(db, "items", {"kind": "k"}, order, 2) == chunks(
            expected(docs, {"kind": "k"}, order), 2
        )
    assert_from_index(proxy)


async def test_in_on_the_partition_field_merges_one_query_per_value(
    db: DatabaseService, proxy: FaultProxy
) -> None:
    await db.ensure_index("sessions", ["user_id"], order_by=["-created"])
    docs = sessions(60)
    assert (await db.save_many("sessions", docs)).ok
    where = {"user_id": {"$in": ["u1", "U1", "nobody"]}}
    proxy.requests.clear()
    found = await db.find("sessions", where, order_by=["-created"], limit=25, strict=True)
    assert [d["_id"] for d in found] == expected(docs, where, ["-created"])[:25]
    partitions = {q["ExpressionAttributeValues"][":p"]["B"] for q in assert_from_index(proxy)}
    assert len(partitions) == 3
    assert await walk(db, "sessions", where, ["-created"], 7) == chunks(
        expected(docs, where, ["-created"]), 7
    )


async def test_ranges_on_the_order_field_are_key_conditions(
    db: DatabaseService, proxy: FaultProxy
) -> None:
    await db.ensure_index("sessions", ["user_id"], order_by=["-created"])
    docs = sessions(60)
    assert (await db.save_many("sessions", docs)).ok
    for where in (
        {"user_id": "u1", "created": {"$gte": -2, "$lt": 2**53 + 1}},
        {"user_id": "u1", "created": {"$gt": "B"}},
        {"user_id": "u2", "created": {"$lte": 0}},
    ):
        proxy.requests.clear()
        found = await db.find("sessions", where, order_by=["-created"], strict=True)
        assert [d["_id"] for d in found] == expected(docs, where, ["-created"])
        assert_from_index(proxy)


async def test_find_page_walks_to_the_end_while_documents_are_inserted(
    db: DatabaseService,
) -> None:
    await db.ensure_index("sessions", ["user_id"], order_by=["-created"])
    docs = [{"_id": f"s{i:02d}", "user_id": "u1", "created": i} for i in range(0, 40, 2)]
    assert (await db.save_many("sessions", docs)).ok
    seen: list[str] = []
    cursor: str | None = None
    inserted = 0
    while True:
        page = await db.find_page(
            "sessions", {"user_id": "u1"}, order_by=["-created"], limit=3, cursor=cursor
        )
        seen.extend(d["_id"] for d in page.items)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
        await db.save("sessions", f"x{inserted}", {"user_id": "u1", "created": 1000 + inserted})
        await db.save("sessions", f"y{inserted}", {"user_id": "u1", "created": -1 - inserted})
        inserted += 1
    assert len(seen) == len(set(seen))
    assert [s for s in seen if s.startswith("s")] == [d["_id"] for d in docs][::-1]
    assert not [s for s in seen if s.startswith("x")]  # ahead of the position: never seen


# -- the derived attributes ------------------------------------------------------------------
async def test_the_keys_and_the_registry_never_show(db: DatabaseService) -> None:
    await db.ensure_index("sessions", ["user_id"], order_by=["-created"])
    doc = {"user_id": "u1", "created": 3, "nested": {"_asyncdb_ixp_x": 1, "_asyncdb_ix": [2.0]}}
    saved = await db.save("sessions", "a", doc)
    stored = await raw_item(db, "sessions", "a")
    assert stored is not None
    assert [name for name in stored if name.startswith("_asyncdb_ix")] == [
        name for name in stored if name.startswith(("_asyncdb_ixp_", "_asyncdb_ixs_"))
    ]
    assert len([n for n in stored if n.startswith("_asyncdb_ix")]) == 2
    assert await raw_item(db, "sessions", REGISTRY_KEY) is not None
    assert await db.get("sessions", "a") == {**doc, "_id": "a", "_rev": saved["_rev"]}
    assert await db.list_all("sessions") == [{**doc, "_id": "a", "_rev": saved["_rev"]}]
    assert [d["_id"] for d in await db.find("sessions", {})] == ["a"]
    assert await db.get_many("sessions", ["a"]) == {"a": {**doc, "_id": "a", "_rev": saved["_rev"]}}
    page = await db.list_page("sessions", limit=10)
    assert [d["_id"] for d in page.items] == ["a"]


async def test_a_top_level_field_in_the_reserved_namespace_is_refused_before_any_io(
    db: DatabaseService, proxy: FaultProxy
) -> None:
    proxy.requests.clear()
    with pytest.raises(InvalidDocumentError):
        await db.save("sessions", "a", {"_asyncdb_ixp_0123456789abcdef_1": "x"})
    assert proxy.requests == []


async def test_a_key_that_no_longer_matches_its_document_is_answered_from_the_scan(
    db: DatabaseService, caplog: pytest.LogCaptureFixture, dynamodb_endpoint: DynamoDBEndpoint
) -> None:
    await db.ensure_index("tickets", ["status"], order_by=["created"])
    docs = [{"_id": f"t{i}", "status": "pending", "created": i} for i in range(6)]
    assert (await db.save_many("tickets", docs)).ok
    # Another program changes a field and leaves the key as it was.
    driver = db.driver.inner  # type: ignore[attr-defined]
    client = await driver._transport.client()
    await client.update_item(
        TableName=db.driver.prefix + "tickets",  # type: ignore[attr-defined]
        Key={"_id": {"S": "t1"}},
        UpdateExpression="SET created = :c",
        ExpressionAttributeValues={":c": {"N": "100"}},
    )
    docs[1]["created"] = 100
    with caplog.at_level(logging.WARNING, logger="asyncdb"):
        # Unlimited, so that the read reaches the row (a wrong key is seen where it is).
        for where in ({"status": "pending"}, {"status": "pending", "created": {"$lte": 2}}):
            for order in (["created"], ["-created"]):
                found = await db.find("tickets", where, order_by=order)
                assert [d["_id"] for d in found] == expected(docs, where, order)
    warned = [r for r in caplog.records if "is not its key" in r.getMessage()]
    assert len(warned) == 1


async def test_a_row_the_index_shows_late_is_checked_against_the_table(
    db: DatabaseService, proxy: FaultProxy
) -> None:
    """GSI reads are eventually consistent on AWS: replaying an old answer of the index
    (as a lagging GSI gives it) must not return a deleted or moved document."""
    await db.ensure_index("tickets", ["status"], order_by=["created"])
    docs = [{"_id": f"t{i}", "status": "pending", "created": i} for i in range(5)]
    assert (await db.save_many("tickets", docs)).ok
    replay: dict[str, Any] = {}

    async def record_query(op: str, payload: dict[str, Any], forward: Forward) -> Reply:
        status, body = await forward(payload)
        if op == "Query":
            replay.setdefault("body", body)
        return status, body

    proxy.handler = record_query
    await db.find("tickets", {"status": "pending"}, order_by=["created"])
    await db.delete("tickets", "t1")
    moved = await db.get("tickets", "t3")
    await db.save("tickets", "t3", {**moved, "created": 50})

    async def lagging(op: str, payload: dict[str, Any], forward: Forward) -> Reply:
        if op == "Query":
            return 200, replay["body"]
        return await forward(payload)

    proxy.handler = lagging
    found = await db.find("tickets", {"status": "pending"}, order_by=["created"])
    assert [d["_id"] for d in found] == ["t0", "t2", "t4"]


async def test_a_long_answer_reads_large_pages_and_re_reads_them_in_batches(
    db: DatabaseService, proxy: FaultProxy
) -> None:
    await db.ensure_index("tickets", ["status"], order_by=["created"])
    docs = [{"_id": f"t{i:03d}", "status": "pending", "created": i * 37 % 101} for i in range(260)]
    assert (await db.save_many("tickets", docs)).ok
    proxy.requests.clear()
    found = await db.find("tickets", {"status": "pending"}, order_by=["created"], strict=True)
    assert [d["_id"] for d in found] == expected(docs, {"status": "pending"}, ["created"])
    queries = assert_from_index(proxy)
    assert [q["Limit"] for q in queries] == [1000]
    gets = [body for op, body in proxy.requests if op == "BatchGetItem"]
    assert sorted(len(next(iter(b["RequestItems"].values()))["Keys"]) for b in gets) == [
        60,
        100,
        100,
    ]
    proxy.requests.clear()
    limited = await db.find("tickets", {"status": "pending"}, order_by=["created"], limit=150)
    assert [d["_id"] for d in limited] == [d["_id"] for d in found][:150]
    assert [q["Limit"] for q in assert_from_index(proxy)] == [100, 1000]
