"""Ordered, ranged and paged queries on CouchDB run from the views ``ensure_index`` makes
(``asyncdb/drivers/couchdb/_views.py``), with exactly the reference evaluator's answer,
although CouchDB collates strings with ICU. The proxy's request log shows what the driver
asked: view key ranges, never ``_all_docs`` pages or Mango."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import unquote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from asyncdb._query import parse_query
from asyncdb._service import DatabaseService
from asyncdb.drivers.couchdb import _ids
from asyncdb.drivers.couchdb._views import ViewIndex, component
from asyncdb.errors import UnindexedQueryError
from asyncdb.testing._suite.ordering import expected
from tests.couchdb._proxy import FaultProxy, Seen
from tests.couchdb.conftest import RawRequest

COLLECTIONS = ("items", "sessions", "tickets", "store")


@pytest.fixture
async def db(make_db: Callable[..., DatabaseService]) -> AsyncIterator[DatabaseService]:
    service = make_db(find_page_size=16)
    yield service
    for name in COLLECTIONS:
        await service.drop_collection(name)


async def walk(
    db: DatabaseService,
    collection: str,
    where: dict[str, Any],
    order_by: list[str] | None,
    limit: int,
) -> list[list[str]]:
    pages: list[list[str]] = []
    cursor: str | None = None
    for _ in range(200):
        page = await db.find_page(collection, where, order_by=order_by, limit=limit, cursor=cursor)
        pages.append([doc["_id"] for doc in page.items])
        if page.next_cursor is None:
            return pages
        cursor = page.next_cursor
    raise AssertionError("find_page did not end")


def chunks(ids: list[str], size: int) -> list[list[str]]:
    return [ids[i : i + size] for i in range(0, len(ids), size)] or [[]]


def reads(proxy: FaultProxy) -> list[Seen]:
    """The requests that read documents for a query (not the design-document listing)."""
    listing = "startkey=" + json.dumps("_design/asyncdb-ix-")
    return [
        seen
        for seen in proxy.seen
        if ("/_all_docs" in seen.raw_path and listing not in unquote(seen.raw_path))
        or seen.raw_path.endswith("/_find")
        or "/_view/" in seen.raw_path
    ]


def assert_from_views(proxy: FaultProxy) -> list[dict[str, Any]]:
    """Every read went to a view, with a key range; the ranges' bodies are returned."""
    seen = reads(proxy)
    assert seen, "no request read documents"
    assert all("/_view/" in s.raw_path and s.method == "POST" for s in seen), [
        s.raw_path for s in seen
    ]
    bodies = [json.loads(s.body) for s in seen]
    assert all("startkey" in body and "endkey" in body for body in bodies)
    return bodies


# -- (1) the application's three shapes ------------------------------------------------------


async def test_sessions_newest_first_20_at_a_time_from_the_view(
    db: DatabaseService, proxy: FaultProxy
) -> None:
    await db.ensure_index("sessions", ["user_id"], order_by=["-created_at"])
    docs = [
        # Ties on created_at (i // 3) go by _id, descending like the order.
        {"_id": f"s{i:03d}", "user_id": f"u{i % 3}", "created_at": i // 3, "title": "t"}
        for i in range(150)
    ]
    assert (await db.save_many("sessions", docs)).ok
    proxy.reset()
    pages = await walk(db, "sessions", {"user_id": "u1"}, ["-created_at"], 20)
    want = expected(docs, {"user_id": "u1"}, ["-created_at"])
    assert len(want) == 50
    assert pages == chunks(want, 20)
    bodies = assert_from_views(proxy)
    assert all(body["descending"] is False for body in bodies)  # the view's own order
    # Each read is within the user's key range, never the whole view.
    user = component((5, "u1"))
    assert all(body["startkey"][0] == user and body["endkey"][0] == user for body in bodies)
    # Each page asks for at most a page (and the row it resumes after) more than it needs.
    assert all(body["limit"] <= 25 + 1 for body in bodies)


async def test_pending_tickets_in_creation_order_from_the_view(
    db: DatabaseService, proxy: FaultProxy
) -> None:
    await db.ensure_index("tickets", ["status"], order_by=["created_at"])
    statuses = ["pending", "done", "Pending", "pending "]
    docs = [
        {"_id": f"t{i:03d}", "status": statuses[i % 4], "created_at": (i * 37) % 101 - 50.5}
        for i in range(120)
    ]
    assert (await db.save_many("tickets", docs)).ok
    proxy.reset()
    found = await db.find("tickets", {"status": "pending"}, order_by=["created_at"])
    assert [doc["_id"] for doc in found] == expected(docs, {"status": "pending"}, ["created_at"])
    assert len(found) == 30
    assert_from_views(proxy)
    # Reversed, the same view is read backwards.
    proxy.reset()
    found = await db.find("tickets", {"status": "pending"}, order_by=["-created_at"], limit=7)
    assert [doc["_id"] for doc in found] == expected(docs, {"status": "pending"}, ["-created_at"])[
        :7
    ]
    (body,) = assert_from_views(proxy)
    assert body["descending"] is True


async def test_a_users_store_entries_in_one_namespace_from_the_view(
    db: DatabaseService, proxy: FaultProxy
) -> None:
    await db.ensure_index("store", ["user_id", "namespace"])
    docs = [
        {"_id": f"k{i:03d}", "user_id": f"u{i % 4}", "namespace": f"n{i % 3}", "v": i}
        for i in range(120)
    ]
    assert (await db.save_many("store", docs)).ok
    proxy.reset()
    where = {"user_id": "u2", "namespace": "n1"}
    found = await db.find("store", where)
    assert sorted(doc["_id"] for doc in found) == expected(docs, where)
    assert len(found) == 10
    (body,) = assert_from_views(proxy)
    assert body["startkey"][:2] == [component((5, "u2")), component((5, "n1"))]
    # find_page of the same shape (ordered by _id) reads the same range.
    proxy.reset()
    assert await walk(db, "store", where, None, 4) == chunks(expected(docs, where), 4)
    assert_from_views(proxy)


async def test_another_process_lists_the_views_once_and_uses_them(
    make_db: Callable[..., DatabaseService], db: DatabaseService, proxy: FaultProxy
) -> None:
    await db.ensure_index("sessions", ["user_id"], order_by=["-created_at"])
    docs = [{"_id": f"s{i:02d}", "user_id": "u", "created_at": i} for i in range(30)]
    assert (await db.save_many("sessions", docs)).ok
    other = make_db()  # a driver that did not make the index itself
    proxy.reset()
    want = expected(docs, {"user_id": "u"}, ["-created_at"])
    for _ in range(3):
        found = await other.find("sessions", {"user_id": "u"}, order_by=["-created_at"])
        assert [doc["_id"] for doc in found] == want
    listings = [s for s in proxy.seen if "_design" in unquote(s.raw_path)]
    assert len([s for s in listings if "/_all_docs" in s.raw_path]) == 1
    # Even the first query read only the user's range (its filter, from the view); the
    # later ones ran natively in order.
    assert_from_views(proxy)


# -- (2) strings that ICU orders otherwise ---------------------------------------------------

STRINGS = [
    "a", "B", "b", "A", "é", "f", "e", "日本", "😀", "a\u0000", "a\u0001", "", "ab",
    "\uffff", "\U0001f600a", "Z", "z", "ß", "É", "a b", "~", "0", "_",
]  # fmt: skip


async def test_strings_order_and_compare_by_code_point(db: DatabaseService) -> None:
    docs = [{"_id": f"d{i:02d}", "s": text, "k": i % 2} for i, text in enumerate(STRINGS)]
    docs += [{"_id": "m1"}, {"_id": "m2", "s": 5}, {"_id": "m3", "s": None}]
    assert (await db.save_many("items", docs)).ok
    await db.ensure_index("items", ["s"], order_by=["s"])
    await db.ensure_index("items", ["k"], order_by=["k", "-s"])
    cases: list[tuple[dict[str, Any], list[str]]] = [
        ({}, ["s"]),
        ({}, ["-s"]),
        ({"s": {"$gt": "a"}}, ["s"]),
        ({"s": {"$gte": "B", "$lt": "b"}}, ["s"]),
        ({"s": {"$lt": "é"}}, ["-s"]),
        ({"s": {"$gt": "a", "$lte": "a\u0001"}}, ["s"]),
        ({"s": {"$gt": "\uffff"}}, ["s"]),  # only the astral ones: 😀 > U+FFFF
        ({"s": {"$gte": "日本"}}, ["-s"]),
        ({"s": {"$lt": "a"}}, ["s"]),
        ({"k": 1}, ["k", "-s"]),
        ({"k": {"$in": [0, 1]}}, ["k", "-s"]),
        ({"k": 0}, ["-k", "s"]),
        # A range on a descending component of the key (complemented), both directions.
        ({"k": 1, "s": {"$lt": "é"}}, ["k", "-s"]),
        ({"k": 0, "s": {"$gte": "a", "$lt": "日本"}}, ["k", "s"]),
        ({"k": {"$in": [1, 0]}, "s": {"$gt": "B"}}, ["-k", "s"]),
    ]
    for where, order_by in cases:
        want = expected(docs, where, order_by)
        found = await db.find("items", where, order_by=order_by, strict=True)
        assert [doc["_id"] for doc in found] == want, (where, order_by)
        assert await walk(db, "items", where, order_by, 3) == chunks(want, 3), (where, order_by)
    # The code point order itself, spelled out.
    found = await db.find("items", {"s": {"$gte": ""}}, order_by=["s"], strict=True)
    assert [doc["s"] for doc in found] == sorted(STRINGS)


async def test_big_integers_and_floats_order_exactly(db: DatabaseService) -> None:
    # Beyond 2**53 doubles cannot tell these apart; the key's remainder does.
    values: list[Any] = [
        2**63 - 1, 2**63 - 2, 2**62 + 1, 2**62, float(2**62), 2**53 + 1, 2**53, 2**53 - 1,
        float(2**53), -(2**63), -(2**63) + 1, -(2**53) - 1, 1.5, -0.5, 0, 9999999999999999,
        10000000000000001, 1e16, 1e125, -1e125, 1e-129, -1e-129, 1.0000000000000002, 1 - 2**-53,
    ]  # fmt: skip
    docs = [{"_id": f"n{i:02d}", "g": 1, "n": v} for i, v in enumerate(values)]
    assert (await db.save_many("items", docs)).ok
    await db.ensure_index("items", ["g"], order_by=["n"])
    await db.ensure_index("items", ["h"], order_by=["-n"])
    docs = [{**doc, "h": 2} for doc in docs]
    assert (await db.save_many("items", docs)).ok
    for where, order_by in [
        ({"h": 2, "n": {"$gt": 2**62}}, ["-n"]),
        ({"h": 2, "n": {"$lte": -(2**53) - 1}}, ["n"]),
        ({"g": 1}, ["n"]),
        ({"g": 1}, ["-n"]),
        ({"g": 1, "n": {"$gt": 2**62}}, ["n"]),
        ({"g": 1, "n": {"$gte": float(2**62), "$lt": 2**63 - 1}}, ["-n"]),
        ({"g": 1, "n": {"$lt": -(2**53)}}, ["n"]),
        ({"g": 1, "n": {"$gt": 9999999999999999, "$lte": 1e16}}, ["n"]),
    ]:
        found = await db.find("items", where, order_by=order_by, strict=True)
        assert [doc["_id"] for doc in found] == expected(docs, where, order_by), where
        assert await walk(db, "items", where, order_by, 4) == chunks(
            expected(docs, where, order_by), 4
        )


def test_the_design_document_is_named_after_what_it_holds() -> None:
    index = ViewIndex.for_index([("user_id",)], parse_query({}, None, ["-created_at"]).order_by)
    assert index.components == ((("user_id",), False), (("created_at",), True))
    assert index.id_descending
    design = index.design()
    assert ViewIndex.from_design(index.ddoc_id, design) == index
    tampered = {**design, "views": {"ix": {"map": "function (doc) { emit(1, null); }"}}}
    assert ViewIndex.from_design(index.ddoc_id, tampered) is None
    assert ViewIndex.from_design(index.ddoc_id + "x", design) is None


async def test_ensure_index_twice_and_concurrently_is_one_design_document(
    db: DatabaseService, raw_couch: RawRequest, prefix: str
) -> None:
    import asyncio

    await asyncio.gather(*(db.ensure_index("items", ["a"], order_by=["b"]) for _ in range(4)))
    await db.ensure_index("items", ["a"], order_by=["b"])
    status, listing = await raw_couch(
        "GET", f"/{prefix}items/_all_docs?startkey=%22_design%2F%22&endkey=%22_design%2F~%22"
    )
    assert status == 200
    assert [row["id"] for row in listing["rows"]] == [
        ViewIndex.for_index([("a",)], parse_query({}, None, ["b"]).order_by).ddoc_id
    ]


# -- (3) random documents and orders against the reference ---------------------------------

_numbers = st.one_of(
    st.integers(-20, 20),
    st.integers(-160, 160).map(lambda i: i / 8),
    st.sampled_from([2**53 + 1, -(2**60) - 3, 2**63 - 1, 1e20]),
)
_strings = st.sampled_from(STRINGS[:14])
_values = st.one_of(_numbers, _strings, st.sampled_from([None, True, False, [1], {"k": 1}]))
_bodies = st.fixed_dictionaries(
    {"g": st.sampled_from(["x", "y", "X"])},
    optional={"v": _values, "w": st.one_of(_numbers, _strings)},
)
_ranges = st.one_of(
    st.just({}),
    st.builds(lambda op, n: {op: n}, st.sampled_from(["$gt", "$gte", "$lt", "$lte"]), _numbers),
    st.builds(lambda op, s: {op: s}, st.sampled_from(["$gt", "$gte", "$lt", "$lte"]), _strings),
    st.builds(lambda a, b: {"$gte": a, "$lt": b}, _numbers, _numbers),
    st.builds(lambda a, b: {"$gt": a, "$lte": b}, _strings, _strings),
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.differing_executors,
    ],
)
@given(
    bodies=st.lists(_bodies, min_size=1, max_size=14),
    descending=st.booleans(),
    reverse=st.booleans(),
    groups=st.sampled_from([["x"], ["y"], ["x", "X"], ["X", "y", "x"]]),
    bound=_ranges,
    extra=st.sampled_from([{}, {"w": {"$ne": 3}}, {"w": {"$exists": True}}]),
    page=st.integers(1, 5),
)
async def test_random_documents_and_pages_equal_the_reference(
    db: DatabaseService,
    bodies: list[dict[str, Any]],
    descending: bool,
    reverse: bool,
    groups: list[str],
    bound: dict[str, Any],
    extra: dict[str, Any],
    page: int,
) -> None:
    docs = [{"_id": f"r{i:02d}", **body} for i, body in enumerate(bodies)]
    indexed = "-v" if descending else "v"
    await db.ensure_index("items", ["g"], order_by=[indexed])
    assert (await db.save_many("items", docs)).ok
    try:
        where: dict[str, Any] = {"g": groups[0] if len(groups) == 1 else {"$in": groups}}
        if bound:
            where["v"] = bound
        where.update(extra)
        order_by = [("v" if descending else "-v") if reverse else indexed]
        want = expected(docs, where, order_by)
        found = await db.find("items", where, order_by=order_by, strict=True)
        assert [doc["_id"] for doc in found] == want
        limited = await db.find("items", where, order_by=order_by, limit=page, strict=True)
        assert [doc["_id"] for doc in limited] == want[:page]
        assert await walk(db, "items", where, order_by, page) == chunks(want, page)
    finally:
        assert (await db.delete_many("items", [doc["_id"] for doc in docs])).ok


# -- (4) strict ------------------------------------------------------------------------------


async def test_strict_passes_for_indexed_shapes_and_raises_for_the_others(
    db: DatabaseService, proxy: FaultProxy, caplog: pytest.LogCaptureFixture
) -> None:
    docs = [{"_id": f"d{i}", "user_id": "u", "created_at": i, "other": i % 2} for i in range(9)]
    assert (await db.save_many("sessions", docs)).ok
    with pytest.raises(UnindexedQueryError, match="ensure_index"):
        await db.find("sessions", {"user_id": "u"}, order_by=["-created_at"], strict=True)
    await db.ensure_index("sessions", ["user_id"], order_by=["-created_at"])
    page = await db.find_page(
        "sessions", {"user_id": "u"}, order_by=["-created_at"], limit=4, strict=True
    )
    assert [doc["_id"] for doc in page.items] == ["d8", "d7", "d6", "d5"]
    # Another order, a range on a field the view does not lead with: not served.
    for where, order_by in [
        ({"user_id": "u"}, ["created_at", "other"]),
        ({"other": 1}, ["-created_at"]),
        ({"created_at": {"$gt": 3}}, None),
    ]:
        with pytest.raises(UnindexedQueryError):
            await db.find("sessions", where, order_by=order_by, strict=True)
    # Without strict the same query is answered, and the WARNING names the index.
    with caplog.at_level(logging.WARNING, logger="asyncdb"):
        found = await db.find("sessions", {"other": 1}, order_by=["-created_at"])
    assert [doc["_id"] for doc in found] == ["d7", "d5", "d3", "d1"]
    assert "ensure_index('sessions', ['other'], order_by=['-created_at'])" in caplog.text


async def test_a_document_the_view_keys_otherwise_is_answered_without_the_view(
    db: DatabaseService,
    raw_couch: RawRequest,
    prefix: str,
    proxy: FaultProxy,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await db.ensure_index("items", ["g"], order_by=["n"])
    docs: list[dict[str, Any]] = [{"_id": f"d{i}", "g": 1, "n": 10 - i} for i in range(5)]
    assert (await db.save_many("items", docs)).ok
    # Another program's document, with a marker whose generation matches its revision but
    # whose fingerprint does not: asyncdb reads "n" as the string it is, the map function
    # (which cannot check a SHA-256) as a big integer.
    foreign = {"g": 1, "n": "-90000000000000000000", "~asyncdb": {"g": 1, "h": "x", "i": [["n"]]}}
    status, _ = await raw_couch("PUT", f"/{prefix}items/foreign", foreign)
    assert status == 201
    docs.append({"_id": "foreign", "g": 1, "n": "-90000000000000000000"})
    assert (await db.get("items", "foreign"))["n"] == "-90000000000000000000"
    proxy.reset()
    with caplog.at_level(logging.WARNING, logger="asyncdb"):
        found = await db.find("items", {"g": 1}, order_by=["n"])
    assert [doc["_id"] for doc in found] == expected(docs, {"g": 1}, ["n"])
    assert found[-1]["_id"] == "foreign"  # a string, after every number
    assert "otherwise than asyncdb reads it" in caplog.text


async def test_escaped_and_digest_ids_dotted_paths_and_reserved_keys(
    db: DatabaseService, proxy: FaultProxy
) -> None:
    # Ids stored under other keys (a leading "_", a key too long for a URL: a digest) are
    # keyed by the caller's id; "~asyncdb" is a caller's key stored as "~~asyncdb"; a
    # dotted path reaches into maps, "a\.b" is a key with a dot.
    long_id = "é" * 1500
    assert _ids.encode(long_id).startswith(_ids.DIGEST)
    assert _ids.encode("_under") == _ids.ESCAPE + "_under"
    docs: list[dict[str, Any]] = [
        {"_id": "_under", "g": 1, "owner": {"age": 3}, "~asyncdb": "b", "a.b": 2},
        {"_id": long_id, "g": 1, "owner": {"age": 3}, "~asyncdb": "a", "a.b": 1},
        {"_id": "B", "g": 1, "owner": {"age": 3}, "~asyncdb": "c", "a.b": 3},
        {"_id": "a", "g": 1, "owner": {"age": -1.5}, "a.b": 0},
        {"_id": "z", "g": 1, "owner": "flat"},
        {"_id": "y", "g": 2, "owner": {"age": 0}},
    ]
    assert (await db.save_many("items", docs)).ok
    await db.ensure_index("items", ["g"], order_by=["-owner.age"])
    await db.ensure_index("items", ["g"], order_by=["~asyncdb"])
    await db.ensure_index("items", ["g"], order_by=["a\\.b"])
    proxy.reset()
    for where, order_by in [
        ({"g": 1}, ["-owner.age"]),
        ({"g": 1}, ["owner.age"]),
        ({"g": 1, "owner.age": {"$gte": 0}}, ["-owner.age"]),
        ({"g": 1}, ["~asyncdb"]),
        ({"g": 1, "~asyncdb": {"$gt": "a"}}, ["-~asyncdb"]),
        ({"g": 1}, ["a\\.b"]),
    ]:
        want = expected(docs, where, order_by)
        found = await db.find("items", where, order_by=order_by, strict=True)
        assert [doc["_id"] for doc in found] == want, (where, order_by)
        assert await walk(db, "items", where, order_by, 2) == chunks(want, 2)
    assert_from_views(proxy)


async def test_a_collection_without_the_view_is_answered_from_its_filter_and_warned(
    db: DatabaseService, proxy: FaultProxy, caplog: pytest.LogCaptureFixture
) -> None:
    # can_find is per collection: the view on "sessions" does not serve "tickets", whose
    # query the face answers from the Mango filter, ordered and paged in asyncdb.
    await db.ensure_index("sessions", ["user_id"], order_by=["-created_at"])
    docs = [{"_id": f"t{i}", "user_id": "u", "created_at": i % 4} for i in range(10)]
    assert (await db.save_many("tickets", docs)).ok
    proxy.reset()
    with caplog.at_level(logging.WARNING, logger="asyncdb"):
        page = await db.find_page("tickets", {"user_id": "u"}, order_by=["-created_at"], limit=4)
        rest = await db.find_page(
            "tickets", {"user_id": "u"}, order_by=["-created_at"], limit=10,
            cursor=page.next_cursor,
        )  # fmt: skip
    want = expected(docs, {"user_id": "u"}, ["-created_at"])
    assert [d["_id"] for d in page.items] + [d["_id"] for d in rest.items] == want
    assert caplog.text.count("ordered and paged in asyncdb after the backend's filter") == 1
    assert db.driver.can_find("sessions", parse_query({"user_id": "u"}, None, ["-created_at"]))
    assert not db.driver.can_find("tickets", parse_query({"user_id": "u"}, None, ["-created_at"]))
    assert not any("/_view/" in seen.raw_path for seen in proxy.seen)
