"""find and ensure_index: the same answer as filtering a scan, on every backend."""

from __future__ import annotations

from typing import Any

import pytest

from asyncdb._query import parse_query
from asyncdb.abc import DocumentService
from asyncdb.errors import InvalidQueryError, ValidationError
from asyncdb.testing.harness import Harness

ITEMS = "items"

_VALUES: list[Any] = [1, 1.0, 2, 2.5, True, False, None, "1", "a", "", [1], {"a": 1}]


def _dataset() -> list[dict[str, Any]]:
    docs = []
    for index in range(60):
        doc: dict[str, Any] = {
            "_id": f"q{index:03d}",
            "userId": f"user{index % 3}",
            "namespace": f"ns{index % 4}",
            "n": index,
            "key": f"k{index}",
        }
        if index % 5:
            doc["v"] = _VALUES[index % len(_VALUES)]
        docs.append(doc)
    return docs


WHERES: list[dict[str, Any]] = [
    {},
    {"userId": "user1"},
    {"userId": "user1", "namespace": "ns2"},
    {"v": 1},
    {"v": 1.0},
    {"v": True},
    {"v": False},
    {"v": None},
    {"v": "1"},
    {"v": ""},
    {"v": 2.5},
    {"n": 7},
    {"n": 7.0},
    {"userId": {"$in": ["user0", "user2"]}},
    {"v": {"$in": [1, "a", None]}},
    {"v": {"$eq": 2}},
    {"missing": 1},
    {"userId": "nobody"},
]


class Queries:
    """find() equals a filtered scan; limits count matches; projections keep _id/_rev."""

    @pytest.mark.parametrize("where", WHERES, ids=[repr(w) for w in WHERES])
    async def test_find_equals_a_filtered_scan(
        self, db: DocumentService, where: dict[str, Any]
    ) -> None:
        docs = _dataset()
        assert (await db.save_many(ITEMS, docs)).ok
        query = parse_query(where)
        expected = sorted(d["_id"] for d in docs if query.matches(d))
        found = await db.find(ITEMS, where)
        assert sorted(d["_id"] for d in found) == expected
        scanned = {d["_id"]: d for d in await db.list_all(ITEMS)}
        for doc in found:
            assert doc == scanned[doc["_id"]]

    async def test_find_limit_counts_matches_not_reads(self, db: DocumentService) -> None:
        docs: list[dict[str, Any]] = [{"_id": f"s{i:04d}", "hit": i % 97 == 0} for i in range(700)]
        assert (await db.save_many(ITEMS, docs)).ok
        all_hits = sorted(d["_id"] for d in docs if d["hit"])
        assert len(all_hits) == 8
        limited = await db.find(ITEMS, {"hit": True}, limit=5)
        assert len(limited) == 5 and set(d["_id"] for d in limited) <= set(all_hits)
        assert sorted(d["_id"] for d in await db.find(ITEMS, {"hit": True}, limit=50)) == all_hits

    async def test_find_projects_fields(self, db: DocumentService) -> None:
        saved = await db.save(ITEMS, "p", {"userId": "u", "key": "k", "value": {"big": [1]}})
        found = await db.find(ITEMS, {"userId": "u"}, fields=["key", "absent"])
        assert found == [{"_id": "p", "_rev": saved["_rev"], "key": "k"}]

    async def test_find_on_a_missing_collection_is_empty(self, db: DocumentService) -> None:
        assert await db.find(ITEMS, {"a": 1}) == []

    async def test_find_with_an_index(self, db: DocumentService) -> None:
        await db.ensure_index(ITEMS, ["userId", "namespace"])
        await db.ensure_index(ITEMS, ["userId", "namespace"])
        assert (await db.save_many(ITEMS, _dataset())).ok
        found = await db.find(ITEMS, {"userId": "user0", "namespace": "ns0"}, fields=["key"])
        assert sorted(d["key"] for d in found) == sorted(
            f"k{i}" for i in range(60) if i % 3 == 0 and i % 4 == 0
        )

    @pytest.mark.parametrize(
        ("where", "fields", "limit"),
        [
            ("userId", None, None),
            ({"_id": "x"}, None, None),
            ({"": 1}, None, None),
            ({"a": {"$regex": "x"}}, None, None),
            ({"a": {}}, None, None),
            ({"a": {"$gt": None}}, None, None),
            ({"a": {"$lte": True}}, None, None),
            ({"a": {"$gt": 1, "$lt": "z"}}, None, None),
            ({"a": {"$gt": 1, "$gte": 2}}, None, None),
            ({"a": {"$lt": 1, "$lte": 2}}, None, None),
            ({"a": {"$gt": [1]}}, None, None),
            ({"a": {"$exists": 1}}, None, None),
            ({"a": {"$exists": False, "$ne": 1}}, None, None),
            ({"a": {"$in": [1], "$ne": 2}}, None, None),
            ({"a..b": 1}, None, None),
            ({"a.": 1}, None, None),
            ({".a": 1}, None, None),
            ({"_a.b": 1}, None, None),
            ({".".join(["a"] * 33): 1}, None, None),
            ({"a." + "k" * 1501: 1}, None, None),
            ({"a": {"$in": []}}, None, None),
            ({"a": {"$in": list(range(31))}}, None, None),
            ({"a": {"$in": [1]}, "b": {"$in": [2]}}, None, None),
            ({"a": [1, 2]}, None, None),
            ({"a": {"$eq": 1, "$in": [1]}}, None, None),
            ({"a": float("nan")}, None, None),
            ({"a": 1}, "key", None),
            ({"a": 1}, ["_rev"], None),
        ],
    )
    async def test_a_bad_query_is_refused(
        self, db: DocumentService, where: Any, fields: Any, limit: Any
    ) -> None:
        with pytest.raises(InvalidQueryError):
            await db.find(ITEMS, where, fields=fields, limit=limit)

    @pytest.mark.parametrize(
        ("where", "fields"),
        [
            ({"a": "\ud800"}, None),
            ({"a": "ok\udfff"}, None),
            ({"a": {"$eq": "\ud800"}}, None),
            ({"a": {"$in": ["ok", "\ud800"]}}, None),
            ({"\ud800": 1}, None),
            ({"a\udc00b": {"$in": [1]}}, None),
            ({"a": 1}, ["\ud800"]),
            ({"a": 2**63}, None),
            ({"a": -(2**63) - 1}, None),
            ({"a": {"$in": [1, 2**64]}}, None),
            ({"a": 10**100}, None),
            ({"a": float("inf")}, None),
            ({"a": float("-inf")}, None),
            ({"a": {"$in": [1.5, float("nan")]}}, None),
            ({"a": 1e200}, None),
            ({"a": 1e-200}, None),
            ({"k" * 1501: 1}, None),
            ({"é" * 751: 1}, None),
            ({"a": 1}, ["k" * 1501]),
            ({"__init__": 1}, None),
            ({"a": 1}, ["__x__"]),
            ({"": 1}, None),
            ({"a": 1}, [""]),
        ],
        ids=lambda value: repr(value)[:40],
    )
    async def test_a_query_no_document_could_match_is_refused_before_io(
        self, db: DocumentService, harness: Harness, where: Any, fields: Any
    ) -> None:
        # The same contract as documents: the same 422 on every backend, never a backend
        # error or an empty answer from a value that could not have been stored.
        await db.save(ITEMS, "d", {"a": 1})
        harness.recorder.calls.clear()
        with pytest.raises(InvalidQueryError) as caught:
            await db.find(ITEMS, where, fields=fields)
        assert caught.value.status_code == 422
        if fields is not None:
            with pytest.raises(InvalidQueryError):
                await db.ensure_index(ITEMS, fields)
        assert harness.recorder.calls == []

    async def test_query_values_at_the_edges_of_the_contract(self, db: DocumentService) -> None:
        edges: dict[str, Any] = {
            "max": 2**63 - 1,
            "min": -(2**63),
            "small": 1e-130,
            "big": 9.99e125,
            "zero": 0.0,
            "astral": "\U0001f600",
            "nul": "a\x00b",
            "k" * 1500: "long key",
            "é" * 750: "long multi-byte key",
        }
        saved = await db.save(ITEMS, "edges", edges)
        await db.save(ITEMS, "other", {"max": 0, "zero": 1})
        for name, value in edges.items():
            found = await db.find(ITEMS, {name: value})
            assert found == [saved], name
            assert await db.find(ITEMS, {name: {"$in": [value, "x"]}}, fields=[name]) == [
                {"_id": "edges", "_rev": saved["_rev"], name: value}
            ], name
        assert await db.find(ITEMS, {"zero": -0.0}) == [saved]

    @pytest.mark.parametrize(
        "order_by",
        [
            "created",
            [1],
            ["-"],
            [""],
            ["_id"],
            ["-_rev"],
            ["a", "a"],
            ["a", "-a"],
            ["a", "b", "c", "d", "e"],
            ["a..b"],
            ["\ud800"],
            [None],
        ],
        ids=repr,
    )
    async def test_a_bad_order_is_refused_before_io(
        self, db: DocumentService, harness: Harness, order_by: Any
    ) -> None:
        harness.recorder.calls.clear()
        with pytest.raises(InvalidQueryError) as caught:
            await db.find(ITEMS, {}, order_by=order_by)
        assert caught.value.status_code == 422
        with pytest.raises(InvalidQueryError):
            await db.find_page(ITEMS, {}, order_by=order_by)
        with pytest.raises(InvalidQueryError):
            await db.ensure_index(ITEMS, ["a"], order_by=order_by)
        assert harness.recorder.calls == []

    @pytest.mark.parametrize("limit", [0, -3, "5", 1.5])
    async def test_a_bad_find_limit_is_refused(self, db: DocumentService, limit: Any) -> None:
        with pytest.raises(ValidationError):
            await db.find(ITEMS, {"a": 1}, limit=limit)
