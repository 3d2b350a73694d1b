"""The query language's parser, the reference evaluator's order, ``find_page`` cursors and
the face's fallback (logging once, ``strict``, filtering natively before ordering)."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Sequence
from typing import Any

import pytest

from asyncdb import DatabaseService
from asyncdb._evaluate import MISSING, arrange, position_of, resolve, value_rank
from asyncdb._find import decode_find_cursor, encode_find_cursor
from asyncdb._query import Condition, Order, Query, UnindexedQueryError, parse_query
from asyncdb.drivers.base import Driver, Record
from asyncdb.drivers.memory import MemoryDriver
from asyncdb.errors import InvalidCursorError, InvalidQueryError


class Counting(MemoryDriver):
    """Default capability; remembers every query its ``find`` ran and every scan."""

    def __init__(self) -> None:
        super().__init__()
        self.finds: list[Query] = []
        self.scans = 0
        self.indexes: list[tuple[Sequence[tuple[str, ...]], Sequence[Order]]] = []

    def can_find(self, collection: str, query: Query) -> bool:
        return Driver.can_find(self, collection, query)

    async def find(self, collection: str, query: Query, limit: int | None) -> list[Record]:
        self.finds.append(query)
        return await super().find(collection, query, limit)

    async def ensure_index(
        self,
        collection: str,
        fields: Sequence[tuple[str, ...]],
        *,
        order_by: Sequence[Order] = (),
    ) -> None:
        self.indexes.append((fields, order_by))

    async def scan(self, collection: str, *, after: str | None, limit: int) -> Any:
        self.scans += 1
        return await super().scan(collection, after=after, limit=limit)


@pytest.fixture
async def counted() -> Any:
    driver = Counting()
    async with DatabaseService(driver) as db:
        await db.save_many("col", [{"_id": f"d{i}", "g": i % 2, "n": -i} for i in range(6)])
        driver.finds.clear()
        driver.scans = 0
        yield db, driver


def test_conditions_keep_their_meaning_for_drivers() -> None:
    query = parse_query({"a": 1, "b": {"$in": [1, "x"]}, "c\\.d": {"$eq": None}})
    assert query.conditions == (
        Condition("a", (1,), "$eq"),
        Condition("b", (1, "x"), "$in"),
        Condition("c.d", (None,), "$eq"),
    )
    assert query.simple and all(c.top_level for c in query.conditions)
    nested = parse_query({"owner.id": {"$gte": 2, "$lt": 5}}).conditions
    assert nested == (
        Condition("owner.id", (2,), "$gte", ("owner", "id")),
        Condition("owner.id", (5,), "$lt", ("owner", "id")),
    )
    assert not parse_query({"a": 1}, order_by=["a"]).simple
    assert not parse_query({"a": {"$ne": 1}}).simple
    assert not parse_query({"a.b": 1}).simple


def test_paths_escape_dots_and_backslashes() -> None:
    (condition,) = parse_query({"a\\\\.b\\.c.d": 1}).conditions
    assert condition.segments == ("a\\", "b.c", "d")
    assert resolve({"a\\": {"b.c": {"d": 3}}}, condition.segments) == 3
    (literal,) = parse_query({"back\\slash\\": 1}).conditions
    assert literal.segments == ("back\\slash\\",) and literal.field == "back\\slash\\"
    assert resolve({"a": [{"b": 1}]}, ("a", "b")) is MISSING
    assert resolve({"a": None}, ("a", "b")) is MISSING


def test_the_order_of_values() -> None:
    ranks = [value_rank(v) for v in [MISSING, None, False, True, -1.5, 2, "", "B", "a", [], {}]]
    assert ranks == sorted(ranks) and len(set(ranks)) == len(ranks)
    assert value_rank(1) == value_rank(1.0) and value_rank(True) != value_rank(1)
    assert value_rank([1]) == value_rank([2]) and value_rank({"a": 1}) == value_rank({})


def test_arrange_breaks_ties_by_id_in_the_last_direction() -> None:
    docs = [("b", {"n": 1}), ("a", {"n": 1}), ("col", {"n": 0})]
    ascending = parse_query({}, order_by=["n"]).order_by
    descending = parse_query({}, order_by=["-n"]).order_by
    identify: Any = lambda item: item  # noqa: E731
    assert [i for i, _ in arrange(docs, ascending, after=None, limit=None, identify=identify)] == [
        "col", "a", "b",
    ]  # fmt: skip
    assert [i for i, _ in arrange(docs, descending, after=None, limit=2, identify=identify)] == [
        "b", "a",
    ]  # fmt: skip
    assert [i for i, _ in arrange(docs, (), after=None, limit=None, identify=identify)] == [
        "a", "b", "col",
    ]  # fmt: skip


@pytest.mark.parametrize(
    "where",
    [{"a": {"$gt": 1, "$lt": 0.5}}, {"a": {"$exists": True, "$gte": "x"}}, {"a": {"$ne": None}}],
)
def test_combinations_that_are_allowed(where: dict[str, Any]) -> None:
    assert parse_query(where).conditions


def _forged(payload: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


def test_a_cursor_round_trips_and_forged_positions_are_refused() -> None:
    query = parse_query({"g": 1}, order_by=["-n", "s"])
    position = position_of(query.order_by, "d1", {"n": 2.5})
    cursor = encode_find_cursor("col", query, position)
    assert decode_find_cursor("col", query, cursor) == position
    payload = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    for key, bad in [
        ("p", [[4, "x"], [0]]),
        ("p", [[4, True], [0]]),
        ("p", [[9], [0]]),
        ("p", [[4, 1]]),
        ("p", "no"),
        ("k", ""),
        ("k", 5),
        ("v", 1),
    ]:
        with pytest.raises(InvalidCursorError):
            decode_find_cursor("col", query, _forged({**payload, key: bad}))
    assert decode_find_cursor("col", query, _forged(payload)) == position
    raw = json.dumps(payload).replace("2.5", "NaN")
    with pytest.raises(InvalidCursorError):
        decode_find_cursor("col", query, base64.urlsafe_b64encode(raw.encode()).decode())
    with pytest.raises(InvalidCursorError):
        decode_find_cursor("other", query, cursor)
    with pytest.raises(InvalidCursorError):
        decode_find_cursor("col", parse_query({"g": 1}, order_by=["n", "s"]), cursor)


async def test_a_scan_is_logged_once_per_shape(
    counted: Any, caplog: pytest.LogCaptureFixture
) -> None:
    db, _ = counted
    with caplog.at_level(logging.WARNING, logger="asyncdb"):
        assert [d["_id"] for d in await db.find("col", {"n": {"$lt": -3}})] == ["d4", "d5"]
        await db.find("col", {"n": {"$lt": -1}})
        await db.find("col", {"n": {"$lt": -1}}, order_by=["n"])
        await db.find("col", {"g": 1})
    logged = [r.getMessage() for r in caplog.records if r.name == "asyncdb"]
    assert len(logged) == 2, logged
    assert "ensure_index('col', ['n'])" in logged[0]
    assert "ensure_index('col', ['n'], order_by=['n'])" in logged[1]
    assert "filtered scan of the collection" in logged[0]
    with caplog.at_level(logging.WARNING, logger="asyncdb"):
        await db.find("col", {"g": 1}, order_by=["-n"])
    assert "after the backend's filter" in caplog.records[-1].getMessage()


async def test_a_native_filter_is_ordered_by_the_face(counted: Any) -> None:
    db, driver = counted
    found = await db.find("col", {"g": 1}, fields=["g"], order_by=["n"], limit=2)
    assert [d["_id"] for d in found] == ["d5", "d3"] and found[0] == {
        "_id": "d5", "_rev": found[0]["_rev"], "g": 1,
    }  # fmt: skip
    # The driver filtered (whole bodies: the face needs n to order) and did not scan.
    assert driver.scans == 0
    assert [(q.conditions, q.fields, q.order_by) for q in driver.finds] == [
        (parse_query({"g": 1}).conditions, None, ())
    ]
    page = await db.find_page("col", {"g": 1}, limit=2)
    assert [d["_id"] for d in page.items] == ["d1", "d3"] and driver.scans == 0


async def test_strict_refuses_before_any_scan(counted: Any) -> None:
    db, driver = counted
    for call in (
        lambda: db.find("col", {"n": {"$gt": 0}}, strict=True),
        lambda: db.find("col", {"g": 1}, order_by=["n"], strict=True),
        lambda: db.find_page("col", {"g": 1}, strict=True),
    ):
        with pytest.raises(UnindexedQueryError) as caught:
            await call()
        assert isinstance(caught.value, InvalidQueryError) and caught.value.status_code == 422
    assert driver.scans == 0 and driver.finds == []
    assert len(await db.find("col", {"g": 1}, strict=True)) == 3


async def test_the_memory_driver_runs_every_shape_itself(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with DatabaseService(MemoryDriver()) as db:
        await db.save_many("col", [{"_id": f"d{i}", "n": i} for i in range(5)])
        with caplog.at_level(logging.WARNING, logger="asyncdb"):
            page = await db.find_page(
                "col", {"n": {"$gte": 1}}, order_by=["-n"], limit=2, strict=True
            )
            assert [d["_id"] for d in page.items] == ["d4", "d3"]
            page = await db.find_page(
                "col", {"n": {"$gte": 1}}, order_by=["-n"], cursor=page.next_cursor, strict=True
            )
            assert [d["_id"] for d in page.items] == ["d2", "d1"] and page.next_cursor is None
        assert caplog.records == []


async def test_ensure_index_passes_the_fields_and_the_parsed_order(counted: Any) -> None:
    db, driver = counted
    await db.ensure_index("col", ["g"], order_by=["-n", "owner.id"])
    assert driver.indexes == [
        ((("g",),), (Order("n", ("n",), True), Order("owner.id", ("owner", "id"))))
    ]
    # Fields are paths, as in ``where``: dotted, with ``\.`` for a literal dot.
    await db.ensure_index("col", ["owner.id", "a\\.b", "owner.id"])
    assert driver.indexes[-1] == ((("owner", "id"), ("a.b",)), ())
    driver.indexes.clear()
    with pytest.raises(InvalidQueryError):
        await db.ensure_index("col", [], order_by=["-n"])
    with pytest.raises(InvalidQueryError):
        await db.ensure_index("col", ["g"], order_by=["n", "n"])
    for bad in (["_id"], ["a..b"], "g", [7]):
        with pytest.raises(InvalidQueryError):
            await db.ensure_index("col", bad)
    assert driver.indexes == []
