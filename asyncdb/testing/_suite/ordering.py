"""Ranges, dotted paths, ``order_by`` and ``find_page``: every backend gives exactly the
answer of the reference evaluator (``asyncdb._evaluate``), natively or from a scan."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from asyncdb._evaluate import arrange
from asyncdb._query import UnindexedQueryError, parse_query
from asyncdb.abc import DocumentService
from asyncdb.errors import InvalidCursorError
from asyncdb.testing.harness import Harness

ITEMS = "items"
OTHER = "others"

#: Strings whose code-point order differs from ICU's and from case-folded order.
STRINGS = ["a", "B", "b", "A", "Z", "z", "é", "É", "e", "ß", "日本", "", "a b", "😀", "ab"]


def expected(
    docs: Sequence[dict[str, Any]], where: dict[str, Any], order_by: list[str] | None = None
) -> list[str]:
    """The reference answer: ids of the matching documents, in order."""
    query = parse_query(where, None, order_by)
    found = [doc for doc in docs if query.matches(doc)]
    ordered = arrange(
        found, query.order_by, after=None, limit=None, identify=lambda d: (d["_id"], d)
    )
    return [doc["_id"] for doc in ordered]


async def ids_of(
    db: DocumentService, where: dict[str, Any], order_by: list[str] | None = None
) -> list[str]:
    """The ids ``find`` returns: in its order, or sorted when no order was asked for."""
    found = [doc["_id"] for doc in await db.find(ITEMS, where, order_by=order_by)]
    return found if order_by else sorted(found)


async def walk(
    db: DocumentService,
    where: dict[str, Any],
    order_by: list[str] | None,
    limit: int,
    *,
    strict: bool = False,
) -> list[str]:
    """Every page of ``find_page``, checking that only the last one lacks a cursor."""
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(100):
        page = await db.find_page(
            ITEMS, where, order_by=order_by, limit=limit, cursor=cursor, strict=strict
        )
        assert len(page.items) <= limit
        seen.extend(doc["_id"] for doc in page.items)
        if page.next_cursor is None:
            return seen
        assert len(page.items) == limit
        cursor = page.next_cursor
    raise AssertionError("find_page did not end")


async def save(db: DocumentService, docs: list[dict[str, Any]]) -> None:
    result = await db.save_many(ITEMS, docs)
    assert result.ok, result.failed


_numbers = st.one_of(st.integers(-20, 20), st.integers(-160, 160).map(lambda i: i / 8))
_scalars = st.one_of(_numbers, st.sampled_from([*STRINGS, None, True, False]))
_values = st.one_of(
    _numbers, st.sampled_from(STRINGS), st.sampled_from([None, True, False, [1], {"k": 1}])
)
_doc_bodies = st.fixed_dictionaries(
    {},
    optional={
        "n": st.one_of(_numbers, _numbers, _values),
        "s": st.sampled_from(STRINGS),
        "g": st.sampled_from(["x", "y"]),
        "o": st.one_of(st.fixed_dictionaries({}, optional={"k": _numbers}), _values),
    },
)
_bounds = st.sampled_from(["$gt", "$gte", "$lt", "$lte", "$ne", "$eq"])
_where = st.one_of(
    st.just({}),
    st.builds(lambda op, v: {"n": {op: v}}, _bounds, _numbers),
    st.builds(lambda op, v: {"s": {op: v}}, _bounds, st.sampled_from(STRINGS)),
    st.builds(lambda op, v: {"o.k": {op: v}}, _bounds, _numbers),
    st.builds(lambda lo, hi: {"n": {"$gte": lo, "$lt": hi}}, _numbers, _numbers),
    st.builds(
        lambda g, e: {"g": g, "s": {"$exists": e}}, st.sampled_from(["x", "y"]), st.booleans()
    ),
    st.builds(lambda v: {"n": {"$in": v}}, st.lists(_scalars, min_size=1, max_size=4)),
)
_order = st.one_of(
    st.none(),
    st.lists(st.sampled_from(["n", "-n", "s", "-s", "o.k", "-o.k", "g", "-g"]), max_size=2).filter(
        lambda keys: len({key.lstrip("-") for key in keys}) == len(keys)
    ),
)


class Ordering:
    """Operators, paths, the order of values and pages, against the reference evaluator."""

    @settings(
        max_examples=20,
        deadline=None,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.differing_executors,
        ],
    )
    @given(
        bodies=st.lists(_doc_bodies, min_size=1, max_size=12),
        where=_where,
        order_by=_order,
        page=st.integers(1, 4),
    )
    async def test_find_and_pages_equal_the_reference(
        self,
        db: DocumentService,
        bodies: list[dict[str, Any]],
        where: dict[str, Any],
        order_by: list[str] | None,
        page: int,
    ) -> None:
        docs = [{"_id": f"r{i:02d}", **body} for i, body in enumerate(bodies)]
        await save(db, docs)
        try:
            want = expected(docs, where, order_by)
            got = await ids_of(db, where, order_by)
            if order_by:
                assert got == want
            else:
                assert sorted(got) == want
            assert await walk(db, where, order_by, page) == want
            limited = await db.find(ITEMS, where, order_by=order_by, limit=page)
            if order_by:
                assert [doc["_id"] for doc in limited] == want[:page]
            else:
                assert len(limited) == min(page, len(want))
                assert {doc["_id"] for doc in limited} <= set(want)
        finally:
            removed = await db.delete_many(ITEMS, [doc["_id"] for doc in docs])
            assert removed.ok, removed.failed

    async def test_strings_order_by_code_point(self, db: DocumentService) -> None:
        await save(db, [{"_id": f"s{i:02d}", "s": text} for i, text in enumerate(STRINGS)])
        by_code_point = sorted(STRINGS)
        found = await db.find(ITEMS, {}, order_by=["s"])
        assert [doc["s"] for doc in found] == by_code_point
        found = await db.find(ITEMS, {}, order_by=["-s"])
        assert [doc["s"] for doc in found] == by_code_point[::-1]
        found = await db.find(ITEMS, {"s": {"$gte": "B", "$lt": "b"}}, order_by=["s"])
        assert [doc["s"] for doc in found] == ["B", "Z", "a", "a b", "ab"]
        found = await db.find(ITEMS, {"s": {"$gt": "z"}}, order_by=["s"])
        assert [doc["s"] for doc in found] == ["É", "ß", "é", "日本", "😀"]

    async def test_numbers_order_by_value(self, db: DocumentService) -> None:
        values: list[Any] = [3, -2.5, 0, 1.0, -7, 0.125, 1, -0.5, 2**53 + 1, -(2**63)]
        await save(db, [{"_id": f"n{i:02d}", "n": v} for i, v in enumerate(values)])
        found = await db.find(ITEMS, {}, order_by=["n"])
        # 1.0 (n03) and 1 (n06) are equal: the tie goes by _id.
        assert [doc["_id"] for doc in found] == [
            "n09", "n04", "n01", "n07", "n02", "n05", "n03", "n06", "n00", "n08",
        ]  # fmt: skip
        found = await db.find(ITEMS, {"n": {"$gt": -1, "$lte": 1}}, order_by=["-n"])
        # Descending: the tie goes by _id descending too.
        assert [doc["_id"] for doc in found] == ["n06", "n03", "n05", "n02", "n07"]
        assert await ids_of(db, {"n": {"$gte": 1.0, "$lt": 1.5}}) == ["n03", "n06"]

    async def test_types_and_missing_fields_have_one_order(self, db: DocumentService) -> None:
        values: list[Any] = ["a", {"m": 1}, 2, None, [0], True, -1, False, "", ...]
        docs = [{"_id": f"t{i}", "v": v} for i, v in enumerate(values) if v is not ...]
        docs.append({"_id": "t9"})  # no "v" at all
        await save(db, docs)
        want = ["t9", "t3", "t7", "t5", "t6", "t2", "t8", "t0", "t4", "t1"]
        assert await ids_of(db, {}, ["v"]) == want
        assert await ids_of(db, {}, ["-v"]) == want[::-1]
        # Ranges are bracketed by type; a missing field matches no operator but $exists.
        assert await ids_of(db, {"v": {"$gte": -1}}, ["v"]) == ["t6", "t2"]
        assert await ids_of(db, {"v": {"$lt": "b"}}, ["v"]) == ["t8", "t0"]
        assert await ids_of(db, {"v": {"$ne": 2}}, ["v"]) == [
            d for d in want if d not in {"t9", "t2"}
        ]
        assert await ids_of(db, {"v": {"$ne": None}}, ["v"]) == want[2:]
        assert await ids_of(db, {"v": {"$exists": False}}) == ["t9"]
        assert await ids_of(db, {"v": {"$exists": True}}, ["v"]) == want[1:]
        assert await ids_of(db, {"v": {"$in": [True, 2.0]}}, ["v"]) == ["t5", "t2"]

    async def test_dotted_paths_reach_into_maps(self, db: DocumentService) -> None:
        docs: list[dict[str, Any]] = [
            {"_id": "d1", "owner": {"id": "u2", "age": 30}},
            {"_id": "d2", "owner": {"id": "u1", "age": 41.5}},
            {"_id": "d3", "owner": {"id": "u1"}},
            {"_id": "d4", "owner": "u1"},
            {"_id": "d5", "owner": [{"id": "u1"}]},  # a list is not traversed
            {"_id": "d6", "owner.id": "u1"},  # a key holding a dot, matched only escaped
            {"_id": "d7", "owner": {"id": {"deep": {"er": 5}}}},
        ]
        await save(db, docs)
        assert await ids_of(db, {"owner.id": "u1"}) == ["d2", "d3"]
        assert await ids_of(db, {"owner\\.id": "u1"}) == ["d6"]
        assert await ids_of(db, {"owner.age": {"$gt": 35}}) == ["d2"]
        assert await ids_of(db, {"owner.id.deep.er": {"$lte": 5}}) == ["d7"]
        assert await ids_of(db, {"owner.id": {"$exists": False}}) == ["d4", "d5", "d6"]
        assert await ids_of(db, {"owner.id": {"$exists": True}}, ["-owner.id"]) == [
            "d7", "d1", "d3", "d2",
        ]  # fmt: skip
        found = await db.find(ITEMS, {"owner.id": "u1"}, fields=["owner"], order_by=["owner.age"])
        assert [doc["owner"] for doc in found] == [{"id": "u1"}, {"id": "u1", "age": 41.5}]

    async def test_several_fields_order_and_the_last_direction_breaks_ties(
        self, db: DocumentService
    ) -> None:
        docs = [
            {"_id": f"m{i}", "g": g, "n": n}
            for i, (g, n) in enumerate([("x", 1), ("y", 1), ("x", 2), ("y", 2), ("x", 1)])
        ]
        await save(db, docs)
        assert await ids_of(db, {}, ["g", "-n"]) == ["m2", "m4", "m0", "m3", "m1"]
        assert await ids_of(db, {}, ["-g", "n"]) == ["m1", "m3", "m0", "m4", "m2"]
        assert await ids_of(db, {"g": "x"}, ["n"]) == ["m0", "m4", "m2"]
        limited = await db.find(ITEMS, {"g": "x"}, order_by=["-n"], limit=2)
        assert [doc["_id"] for doc in limited] == ["m2", "m4"]

    async def test_pages_walk_the_order_and_survive_changes(self, db: DocumentService) -> None:
        docs = [{"_id": f"p{i:02d}", "n": i % 5, "g": "x"} for i in range(13)]
        await save(db, docs)
        want = expected(docs, {"g": "x"}, ["-n"])
        assert await walk(db, {"g": "x"}, ["-n"], 4) == want
        assert await walk(db, {"g": "x"}, None, 5) == [f"p{i:02d}" for i in range(13)]
        first = await db.find_page(ITEMS, {"g": "x"}, order_by=["-n"], limit=4)
        assert [doc["_id"] for doc in first.items] == want[:4]
        assert all(doc["_rev"] for doc in first.items) and first.items[0]["g"] == "x"
        assert first.next_cursor is not None
        # The cursor holds a position, not an offset: deleting the last document read and
        # adding one before it changes nothing of what follows.
        await db.delete(ITEMS, want[3])
        await db.save(ITEMS, "p99", {"n": 9, "g": "x"})
        rest = await db.find_page(ITEMS, {"g": "x"}, order_by=["-n"], cursor=first.next_cursor)
        assert [doc["_id"] for doc in rest.items] == want[4:] and rest.next_cursor is None
        assert (await db.find_page(ITEMS, {"g": "nobody"})).next_cursor is None

    async def test_a_cursor_is_bound_to_its_collection_and_query(
        self, db: DocumentService, harness: Harness
    ) -> None:
        await save(db, [{"_id": f"c{i}", "n": i} for i in range(5)])
        page = await db.find_page(ITEMS, {"n": {"$gte": 0}}, order_by=["n"], limit=2)
        cursor = page.next_cursor
        assert cursor is not None
        listed = (await db.list_page(ITEMS, limit=2)).next_cursor
        assert listed is not None
        harness.recorder.calls.clear()
        misuses: list[tuple[str, dict[str, Any], list[str] | None, str]] = [
            (OTHER, {"n": {"$gte": 0}}, ["n"], cursor),
            (ITEMS, {"n": {"$gte": 1}}, ["n"], cursor),
            (ITEMS, {"n": {"$gte": 0}}, ["-n"], cursor),
            (ITEMS, {"n": {"$gte": 0}}, None, cursor),
            (ITEMS, {"n": {"$gte": 0}}, ["n"], listed),
            (ITEMS, {"n": {"$gte": 0}}, ["n"], cursor[:-3]),
            (ITEMS, {"n": {"$gte": 0}}, ["n"], "not a cursor"),
            (ITEMS, {"n": {"$gte": 0}}, ["n"], ""),
        ]
        for collection, where, order_by, bad in misuses:
            with pytest.raises(InvalidCursorError) as caught:
                await db.find_page(collection, where, order_by=order_by, cursor=bad)
            assert caught.value.status_code == 400
        with pytest.raises(InvalidCursorError):
            await db.list_page(ITEMS, cursor=cursor)
        assert harness.recorder.calls == []

    async def test_strict_answers_natively_or_refuses_without_scanning(
        self, db: DocumentService, harness: Harness
    ) -> None:
        docs = [{"_id": f"x{i}", "n": i, "g": "x" if i % 2 else "y"} for i in range(6)]
        await save(db, docs)
        assert sorted(d["_id"] for d in await db.find(ITEMS, {"g": "x"}, strict=True)) == [
            "x1", "x3", "x5",
        ]  # fmt: skip
        harness.recorder.calls.clear()
        outcome: list[str] | UnindexedQueryError
        try:
            found = await db.find(ITEMS, {"n": {"$gt": 2}}, order_by=["-n"], strict=True)
            outcome = [doc["_id"] for doc in found]
        except UnindexedQueryError as refused:
            outcome = refused
        if isinstance(outcome, UnindexedQueryError):
            assert outcome.status_code == 422 and "ensure_index" in str(outcome)
            assert all(operation != "scan" for operation, _ in harness.recorder.calls)
        else:
            assert outcome == ["x5", "x4", "x3"]
