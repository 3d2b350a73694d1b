"""Ordered, ranged and paged queries on Firestore run from the index keys ``ensure_index``
makes (``asyncdb/drivers/firestore/_indexes.py``), with exactly the reference evaluator's
answer. The proxy's request log shows what the driver asked: ``RunQuery`` requests that
are one range on the index's key field ordered by it, answered with matching documents
only, never a scan of the collection."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import pytest
from google.cloud import firestore
from google.cloud.firestore_v1 import types

from asyncdb._query import parse_query
from asyncdb._service import DatabaseService
from asyncdb.drivers._keyplan import KeyLayout
from asyncdb.drivers.firestore import FirestoreDriver
from asyncdb.drivers.firestore._codec import KEY_FIELD_PREFIX, decode_document
from asyncdb.drivers.firestore._records import key_field
from asyncdb.drivers.firestore._registry import REGISTRY_COLLECTION
from asyncdb.testing._suite.ordering import STRINGS, expected
from tests.backends.firestore import TEST_PROJECT
from tests.firestore._proxy import LosingProxy

_RunQueryRequest = types.RunQueryRequest.pb()
_RunQueryResponse = types.RunQueryResponse.pb()
_AT_LEAST = types.StructuredQuery.FieldFilter.Operator.GREATER_THAN_OR_EQUAL
_AT_MOST = types.StructuredQuery.FieldFilter.Operator.LESS_THAN_OR_EQUAL
_DESCENDING = types.StructuredQuery.Direction.DESCENDING


def queries(proxy: LosingProxy) -> list[tuple[Any, list[Any]]]:
    """Every ``RunQuery`` forwarded: its structured query and the documents answered."""
    found = []
    for logged in proxy.log:
        if logged.method != "RunQuery":
            continue
        request = _RunQueryRequest.FromString(logged.request)
        answers = [_RunQueryResponse.FromString(reply) for reply in logged.replies]
        found.append(
            (request.structured_query, [a.document for a in answers if a.HasField("document")])
        )
    return found


def assert_from_index(
    proxy: LosingProxy,
    where: dict[str, Any],
    *,
    descending: bool | None = None,
    exact: bool = True,
) -> list[Any]:
    """Every query read was one range on an index key field, ordered by it, and answered
    only documents that match ``where`` (unless not ``exact``: a bound on a string cut
    to fit the key also reads the rows tied with it on the cut, which the driver drops);
    the structured queries are returned."""
    seen = queries(proxy)
    assert seen, "no RunQuery was sent"
    query = parse_query(where, None, None)
    for structured, documents in seen:
        filters = structured.where.composite_filter.filters
        assert len(filters) == 2, structured
        fields = {f.field_filter.field.field_path for f in filters}
        assert len(fields) == 1 and next(iter(fields)).startswith(KEY_FIELD_PREFIX)
        assert [f.field_filter.op for f in filters] == [_AT_LEAST, _AT_MOST]
        assert [o.field.field_path for o in structured.order_by] == [*fields, "__name__"]
        if descending is not None:
            assert (structured.order_by[0].direction == _DESCENDING) is descending
        for document in documents if exact else ():
            assert query.matches(decode_document(document.fields)), document.name
    return [structured for structured, _ in seen]


async def walk(
    db: DatabaseService,
    collection: str,
    where: dict[str, Any],
    order_by: list[str] | None,
    limit: int,
) -> list[str]:
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(200):
        page = await db.find_page(
            collection, where, order_by=order_by, limit=limit, cursor=cursor, strict=True
        )
        seen.extend(doc["_id"] for doc in page.items)
        if page.next_cursor is None:
            return seen
        cursor = page.next_cursor
    raise AssertionError("find_page did not end")


def sessions(count: int) -> list[dict[str, Any]]:
    created: list[Any] = [5, -2, 3.5, 0, 2**63 - 1, -(2**63), 1e100, None, "x", True, *STRINGS]
    docs = []
    for i in range(count):
        doc: dict[str, Any] = {"_id": f"s{i:03d}", "user_id": ["u1", "u2", "U1"][i % 3]}
        if i % 5 != 2:
            doc["created"] = created[i % len(created)]
        docs.append(doc)
    return docs


async def test_sessions_newest_first_20_at_a_time_from_the_index(
    db: DatabaseService, proxy: LosingProxy, name: str
) -> None:
    collection = f"{name}_sessions"
    docs = sessions(90)
    assert (await db.save_many(collection, docs)).ok
    await db.ensure_index(collection, ["user_id"], order_by=["-created"])
    where, order_by = {"user_id": "u1"}, ["-created"]
    want = expected(docs, where, order_by)
    proxy.log.clear()
    pages = []
    cursor = None
    while True:
        page = await db.find_page(
            collection, where, order_by=order_by, limit=20, cursor=cursor, strict=True
        )
        pages.append([doc["_id"] for doc in page.items])
        cursor = page.next_cursor
        if cursor is None:
            break
    assert [i for page in pages for i in page] == want
    assert [len(page) for page in pages] == [20, 10]
    assert_from_index(proxy, where, descending=False)  # the key holds -created already
    # Lazily: the first page asked for little more than a page, not the whole range.
    first, _ = queries(proxy)[0]
    assert first.limit.value <= 22


async def test_pending_tickets_in_creation_order_from_the_index(
    db: DatabaseService, proxy: LosingProxy, name: str
) -> None:
    collection = f"{name}_tickets"
    await db.ensure_index(collection, ["status"], order_by=["created"])
    docs = [
        {"_id": f"t{i:02d}", "status": ["pending", "done", "Pending"][i % 3], "created": -i % 7}
        for i in range(40)
    ]
    assert (await db.save_many(collection, docs)).ok
    proxy.log.clear()
    where = {"status": "pending"}
    found = await db.find(collection, where, order_by=["created"], strict=True)
    assert [d["_id"] for d in found] == expected(docs, where, ["created"])
    assert_from_index(proxy, where, descending=False)
    proxy.log.clear()
    # The reverse order reads the same index backwards.
    found = await db.find(collection, where, order_by=["-created"], strict=True)
    assert [d["_id"] for d in found] == expected(docs, where, ["-created"])
    assert_from_index(proxy, where, descending=True)


async def test_a_users_store_entries_in_one_namespace_from_the_index(
    db: DatabaseService, proxy: LosingProxy, name: str
) -> None:
    collection = f"{name}_store"
    await db.ensure_index(collection, ["user_id", "namespace"])
    docs = [
        {"_id": f"e{i:02d}", "user_id": f"u{i % 3}", "namespace": f"n{i % 2}", "v": i}
        for i in range(50)
    ]
    assert (await db.save_many(collection, docs)).ok
    where = {"user_id": "u1", "namespace": "n0"}
    proxy.log.clear()
    found = await db.find(collection, where, strict=True)
    assert sorted(d["_id"] for d in found) == expected(docs, where)
    assert_from_index(proxy, where)
    proxy.log.clear()
    assert await walk(db, collection, where, None, 3) == expected(docs, where)
    assert_from_index(proxy, where)
    # $in on an equality field: one range per value, merged in _id order.
    where_in = {"user_id": {"$in": ["u2", "u0"]}, "namespace": "n1"}
    proxy.log.clear()
    assert await walk(db, collection, where_in, None, 4) == expected(docs, where_in)
    assert_from_index(proxy, where_in)


async def test_in_ranges_descending_mixed_types_and_missing_fields(
    db: DatabaseService, proxy: LosingProxy, name: str
) -> None:
    collection = f"{name}_items"
    await db.ensure_index(collection, ["g"], order_by=["-n"])
    values: list[Any] = [3, 1.5, -1, 0, "b", "B", "", None, True, False, 2**53 + 1, 2**53]
    docs = []
    for i in range(48):
        doc: dict[str, Any] = {"_id": f"d{i:02d}", "g": ["x", "y", "z"][i % 3]}
        if i % 4:
            doc["n"] = values[i % len(values)]
        docs.append(doc)
    assert (await db.save_many(collection, docs)).ok
    for where in (
        {"g": {"$in": ["x", "z"]}},
        {"g": "y", "n": {"$gte": 0}},
        {"g": "x", "n": {"$lt": "b"}},
        {"g": {"$in": ["y", "x"]}, "n": {"$gt": -1, "$lte": 3}},
    ):
        proxy.log.clear()
        found = await db.find(collection, where, order_by=["-n"], strict=True)
        assert [d["_id"] for d in found] == expected(docs, where, ["-n"]), where
        assert await walk(db, collection, where, ["-n"], 5) == expected(docs, where, ["-n"])
        assert_from_index(proxy, where)


async def test_long_strings_beyond_a_keys_share_order_exactly(
    db: DatabaseService, proxy: LosingProxy, name: str
) -> None:
    collection = f"{name}_items"
    await db.ensure_index(collection, ["g"], order_by=["s"])
    stem = "é" * 600  # 1,200 bytes: more than the share of one component of the key
    tails = ["b", "a", "ab", "", "\U0001f600", "B", "a\x00", "z" * 900]
    docs = [{"_id": f"l{i}", "g": "x", "s": stem + tail} for i, tail in enumerate(tails)]
    docs += [{"_id": "short", "g": "x", "s": "é"}, {"_id": "other", "g": "y", "s": stem}]
    assert (await db.save_many(collection, docs)).ok
    for where in (
        {"g": "x"},
        {"g": "x", "s": {"$gt": stem + "a"}},
        {"g": "x", "s": {"$lte": stem}},
    ):
        for order_by in (["s"], ["-s"]):
            proxy.log.clear()
            want = expected(docs, where, order_by)
            found = await db.find(collection, where, order_by=order_by, strict=True)
            assert [d["_id"] for d in found] == want, (where, order_by)
            assert await walk(db, collection, where, order_by, 2) == want
            assert_from_index(proxy, where, exact="s" not in where)


async def test_pages_walked_while_documents_are_inserted_skip_and_repeat_nothing(
    db: DatabaseService, name: str
) -> None:
    collection = f"{name}_sessions"
    await db.ensure_index(collection, ["user_id"], order_by=["-created"])
    docs = [{"_id": f"p{i:02d}", "user_id": "u", "created": i} for i in range(0, 40, 2)]
    assert (await db.save_many(collection, docs)).ok
    where, order_by = {"user_id": "u"}, ["-created"]
    seen: list[str] = []
    cursor = None
    inserted = 0
    while True:
        page = await db.find_page(
            collection, where, order_by=order_by, limit=3, cursor=cursor, strict=True
        )
        seen.extend(doc["_id"] for doc in page.items)
        # Between pages: documents before and after the position.
        await db.save(collection, f"n{inserted:02d}", {"user_id": "u", "created": 2 * inserted + 1})
        inserted += 1
        cursor = page.next_cursor
        if cursor is None:
            break
    assert len(seen) == len(set(seen))
    assert {d["_id"] for d in docs} <= set(seen)
    assert seen == sorted(seen, key=lambda i: -int(i[1:]) if i[0] == "p" else -(2 * int(i[1:]) + 1))


async def test_a_second_process_learns_of_the_index_and_keys_its_writes(
    make_db: Callable[..., DatabaseService], proxy: LosingProxy, name: str
) -> None:
    collection = f"{name}_sessions"
    first = make_db()
    lazy = make_db(index_refresh_seconds=3600)
    prompt = make_db()
    # ``lazy`` cached the registry (no index) with its first write, before the index.
    await lazy.save(collection, "early", {"user_id": "u", "created": 1})
    await first.ensure_index(collection, ["user_id"], order_by=["created"])
    await prompt.save(collection, "later", {"user_id": "u", "created": 2})
    where = {"user_id": "u"}
    found = await first.find(collection, where, order_by=["created"], strict=True)
    assert [d["_id"] for d in found] == ["early", "later"]
    # A process that never found on it learns of the index with its first find.
    fresh = make_db()
    assert [d["_id"] for d in await fresh.find(collection, where, order_by=["created"])] == [
        "early",
        "later",
    ]
    proxy.log.clear()
    await fresh.find(collection, where, order_by=["created"], strict=True)
    assert_from_index(proxy, where)


async def test_ensure_index_waits_twice_the_refresh_for_every_writer_to_learn_of_it(
    make_db: Callable[..., DatabaseService], name: str
) -> None:
    collection = f"{name}_sessions"
    maker = make_db(index_refresh_seconds=1.0)
    writer = make_db(index_refresh_seconds=1.0)
    await writer.save(collection, "w0", {"user_id": "u", "created": 0})  # caches: no index
    loop = asyncio.get_running_loop()
    started = loop.time()
    making = asyncio.create_task(maker.ensure_index(collection, ["user_id"], order_by=["created"]))
    await asyncio.sleep(1.2)
    # Its copy is stale now: this write reads the registry again and keys the index.
    await writer.save(collection, "w1", {"user_id": "u", "created": 1})
    assert not making.done()
    await making
    assert loop.time() - started >= 1.9
    found = await maker.find(collection, {"user_id": "u"}, order_by=["created"], strict=True)
    assert [d["_id"] for d in found] == ["w0", "w1"]
    # Ready: a second call returns at once.
    started = loop.time()
    await maker.ensure_index(collection, ["user_id"], order_by=["created"])
    assert loop.time() - started < 1.0


async def test_a_wrong_stored_key_falls_back_to_the_right_answer_and_warns(
    db: DatabaseService,
    name: str,
    firestore_host: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    collection = f"{name}_tickets"
    await db.ensure_index(collection, ["status"], order_by=["created"])
    docs = [{"_id": f"k{i}", "status": "pending", "created": i} for i in range(6)]
    assert (await db.save_many(collection, docs)).ok
    # Another tool changes one body field and leaves the index key as it was.
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", firestore_host)
    raw = firestore.AsyncClient(project=TEST_PROJECT)
    await raw.collection(collection).document("k0").update({"created": 50})
    now = await db.list_all(collection)
    with caplog.at_level(logging.WARNING, logger="asyncdb"):
        found = await db.find(collection, {"status": "pending"}, order_by=["created"])
    assert [d["_id"] for d in found] == expected(now, {"status": "pending"}, ["created"])
    assert [d["_id"] for d in found][-1] == "k0"
    assert any("is not its key" in r.getMessage() for r in caplog.records)


async def test_the_key_field_is_stored_but_never_read_back(
    db: DatabaseService, proxy: LosingProxy, name: str
) -> None:
    collection = f"{name}_items"
    await db.ensure_index(collection, ["a"], order_by=["b"])
    body = {"a": 1, "b": "x", "o": {"_asyncdb_ix_0123456789abcdef": 1, "~~k": 2, "_asyncdb_rev": 3}}
    saved = await db.save(collection, "d", body)
    assert saved == {"_id": "d", "_rev": saved["_rev"], **body}
    assert await db.get(collection, "d") == saved
    assert await db.get_many(collection, ["d"]) == {"d": saved}
    assert await db.list_all(collection) == [saved]
    assert await db.find(collection, {"a": 1}, order_by=["b"], strict=True) == [saved]
    # The stored document holds the key, under the layout's own field.
    layout = KeyLayout.for_index([("a",)], parse_query({}, None, ["b"]).order_by)
    commits = [
        types.CommitRequest.pb().FromString(logged.request)
        for logged in proxy.log
        if logged.method == "Commit"
    ]
    written = [w.update for c in commits for w in c.writes if w.update.name.endswith("/d")]
    assert key_field(layout) in written[-1].fields


async def test_the_registry_is_no_collection_and_goes_with_a_drop(
    make_db: Callable[..., DatabaseService], name: str
) -> None:
    collection = f"{name}_items"
    db = make_db()
    await asyncio.gather(
        *(db.ensure_index(collection, ["a"], order_by=["b"]) for _ in range(3)),
        make_db().ensure_index(collection, ["a"], order_by=["b"]),
        make_db().ensure_index(collection, ["c"]),
    )
    await db.save(collection, "d", {"a": 1, "b": 2, "c": 3})
    driver = db._driver
    assert isinstance(driver, FirestoreDriver)
    conn = await driver._transport.connection()
    snapshot = await driver._registry.read(conn, collection)
    assert sorted(e.state for e in snapshot.entries.values()) == ["ready", "ready"]
    assert REGISTRY_COLLECTION not in await db.list_collections()
    assert collection in await db.list_collections()
    await db.drop_collection(collection)
    assert (await driver._registry.read(conn, collection)).entries == {}
    # Without the index, an ordered query is the face's filtered scan again.
    assert not driver.can_find(collection, parse_query({"a": 1}, None, ["b"]))
