"""``find`` on CouchDB asks a Mango json index on ``[*fields, _id]`` (one another program
made: ``ensure_index`` makes views now, see test_native_queries.py) when an unordered
equality query fixes all of its fields and no view serves it, pages through it in ``_id``
order, and falls back to ``_id`` paging when the index is gone. Requests are seen at the
proxy; the server's ``_explain`` says which index it used for them."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from asyncdb._service import DatabaseService
from asyncdb.drivers.couchdb._query import Index
from tests.couchdb._proxy import FaultProxy, Seen
from tests.couchdb.conftest import RawRequest


def _finds(proxy: FaultProxy) -> list[dict[str, Any]]:
    return [json.loads(seen.body) for seen in proxy.seen if seen.raw_path.endswith("/_find")]


def _index_listings(proxy: FaultProxy) -> list[Seen]:
    return [s for s in proxy.seen if s.method == "GET" and s.raw_path.endswith("/_index")]


async def _mango_index(raw_couch: RawRequest, database: str, fields: list[str]) -> None:
    """The json index ``Index.for_fields`` describes, made past asyncdb (as another
    program would), in a database created first if need be."""
    await raw_couch("PUT", f"/{database}")
    status, _ = await raw_couch(
        "POST", f"/{database}/_index", Index.for_fields(fields).definition()
    )
    assert status in (200, 201)


def _dataset(count: int) -> list[dict[str, Any]]:
    # Every third document matches {"user": "u0", "kind": "a"}; the others differ in one
    # field or both, so that an index on only one of them would not be enough.
    return [
        {"_id": f"d{i:04}", "user": f"u{i % 3}", "kind": "a" if i % 2 == 0 else "b", "n": i}
        for i in range(count)
    ]


def _expected(count: int, **where: str) -> list[str]:
    return [
        doc["_id"]
        for doc in _dataset(count)
        if all(doc[field] == value for field, value in where.items())
    ]


async def test_find_pages_through_the_index_in_id_order(
    make_db: Callable[..., DatabaseService], proxy: FaultProxy, raw_couch: RawRequest, prefix: str
) -> None:
    db = make_db(find_page_size=7)
    await _mango_index(raw_couch, f"{prefix}items", ["user", "kind"])
    assert (await db.save_many("items", _dataset(200))).ok
    proxy.reset()
    found = await db.find("items", {"kind": "a", "user": "u0"})
    assert [doc["_id"] for doc in found] == _expected(200, user="u0", kind="a")
    requests = _finds(proxy)
    assert len(requests) == len(found) // 7 + 1
    index = Index.for_fields(["user", "kind"])
    assert all(request["use_index"] == [index.ddoc, index.name] for request in requests)
    assert requests[0]["sort"] == [{"kind": "asc"}, {"user": "asc"}, {"_id": "asc"}]
    # The server reads that index, in the key range of the fixed fields.
    status, plan = await raw_couch("POST", f"/{prefix}items/_explain", requests[1])
    assert status == 200
    assert plan["index"]["ddoc"] == f"_design/{index.ddoc}"
    assert plan["index"]["def"]["fields"] == [{"kind": "asc"}, {"user": "asc"}, {"_id": "asc"}]


async def test_find_with_a_limit_through_the_index(
    make_db: Callable[..., DatabaseService], raw_couch: RawRequest, prefix: str
) -> None:
    db = make_db(find_page_size=7)
    await _mango_index(raw_couch, f"{prefix}items", ["user", "kind"])
    assert (await db.save_many("items", _dataset(100))).ok
    found = await db.find("items", {"user": "u1", "kind": "b"}, limit=3)
    assert [doc["_id"] for doc in found] == _expected(100, user="u1", kind="b")[:3]


async def test_a_query_that_does_not_fix_every_indexed_field_pages_by_id(
    make_db: Callable[..., DatabaseService], proxy: FaultProxy, raw_couch: RawRequest, prefix: str
) -> None:
    db = make_db(find_page_size=7)
    await _mango_index(raw_couch, f"{prefix}items", ["user", "kind"])
    assert (await db.save_many("items", _dataset(60))).ok
    proxy.reset()
    found = await db.find("items", {"user": "u2"})
    assert [doc["_id"] for doc in found] == _expected(60, user="u2")
    assert all("use_index" not in request for request in _finds(proxy))
    assert all(request["sort"] == [{"_id": "asc"}] for request in _finds(proxy))


async def test_the_narrowest_index_wins(
    make_db: Callable[..., DatabaseService], proxy: FaultProxy, raw_couch: RawRequest, prefix: str
) -> None:
    db = make_db()
    await _mango_index(raw_couch, f"{prefix}items", ["user"])
    await _mango_index(raw_couch, f"{prefix}items", ["user", "kind"])
    assert (await db.save_many("items", _dataset(30))).ok
    proxy.reset()
    found = await db.find("items", {"user": "u0", "kind": "a", "n": 6})
    assert [doc["_id"] for doc in found] == ["d0006"]
    (request,) = _finds(proxy)
    assert request["use_index"][1] == Index.for_fields(["kind", "user"]).name


async def test_another_process_finds_the_index_by_listing_once(
    make_db: Callable[..., DatabaseService], proxy: FaultProxy, raw_couch: RawRequest, prefix: str
) -> None:
    await _mango_index(raw_couch, f"{prefix}items", ["user"])
    db = make_db()  # a driver that did not make the index itself
    assert (await db.save_many("items", _dataset(30))).ok
    proxy.reset()
    for user in ("u0", "u1", "u2"):
        found = await db.find("items", {"user": user})
        assert [doc["_id"] for doc in found] == _expected(30, user=user)
    assert len(_index_listings(proxy)) == 1
    assert all("use_index" in request for request in _finds(proxy))


async def test_an_index_deleted_behind_the_drivers_back_is_dropped_from_its_plan(
    make_db: Callable[..., DatabaseService], proxy: FaultProxy, raw_couch: RawRequest, prefix: str
) -> None:
    db = make_db(find_page_size=5)
    await _mango_index(raw_couch, f"{prefix}items", ["user"])
    assert (await db.save_many("items", _dataset(40))).ok
    assert [d["_id"] for d in await db.find("items", {"user": "u0"})] == _expected(40, user="u0")
    index = Index.for_fields(["user"])
    # Deleting its design document deletes the index (pouchdb-server has no DELETE _index).
    design = f"/{prefix}items/_design/{index.ddoc}"
    status, ddoc = await raw_couch("GET", design)
    assert status == 200
    status, _ = await raw_couch("DELETE", f"{design}?rev={ddoc['_rev']}")
    assert status == 200
    proxy.reset()
    assert [d["_id"] for d in await db.find("items", {"user": "u1"})] == _expected(40, user="u1")
    first, *rest = _finds(proxy)
    assert "use_index" in first  # refused by the server (400), then never asked again
    assert rest and all("use_index" not in request for request in rest)


@pytest.mark.parametrize(
    "entry",
    [
        {"type": "special", "name": "_all_docs", "def": {"fields": [{"_id": "asc"}]}},
        {"type": "json", "ddoc": "_design/x", "name": "x", "def": {"fields": [{"a": "asc"}]}},
        {"type": "json", "ddoc": "_design/x", "name": "x", "def": {"fields": [{"_id": "asc"}]}},
        {
            "type": "json",
            "ddoc": "_design/x",
            "name": "x",
            "def": {"fields": [{"a": "desc"}, {"_id": "desc"}]},
        },
        {
            "type": "json",
            "ddoc": "_design/x",
            "name": "x",
            "def": {"fields": [{"a.b": "asc"}, {"_id": "asc"}]},
        },
        {"type": "text", "ddoc": "_design/x", "name": "x", "def": {"fields": []}},
        {"type": "json", "ddoc": None, "name": "x", "def": {"fields": [{"_id": "asc"}]}},
    ],
)
def test_indexes_that_cannot_serve_id_ordered_pages_are_ignored(entry: dict[str, Any]) -> None:
    assert Index.from_listing(entry) is None


def test_a_foreign_index_on_fields_then_id_is_used() -> None:
    entry = {
        "type": "json",
        "ddoc": "_design/mine",
        "name": "by-user",
        "def": {"fields": [{"user": "asc"}, {"_id": "asc"}]},
    }
    assert Index.from_listing(entry) == Index(("user",), "mine", "by-user")


async def test_ensure_index_makes_a_view_which_equality_queries_use_instead(
    make_db: Callable[..., DatabaseService], proxy: FaultProxy, raw_couch: RawRequest, prefix: str
) -> None:
    db = make_db(find_page_size=7)
    await db.ensure_index("items", ["user", "kind"])
    assert (await db.save_many("items", _dataset(60))).ok
    status, listing = await raw_couch("GET", f"/{prefix}items/_index")
    assert status == 200
    assert [entry["type"] for entry in listing["indexes"]] == ["special"]  # _all_docs only
    proxy.reset()
    # A prefix of the view's fields is enough (a Mango index needed all of them).
    found = await db.find("items", {"user": "u2"})
    assert sorted(doc["_id"] for doc in found) == _expected(60, user="u2")
    assert not _finds(proxy)
    assert any("/_view/" in seen.raw_path for seen in proxy.seen)
