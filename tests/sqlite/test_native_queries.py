"""SQLite runs every query natively, in SQL, with exactly the reference evaluator's answer
(``asyncdb._evaluate``, here through the memory driver): random documents and queries,
orders, limits and pages; hostile field names; and the application's three shapes read
from the index ``ensure_index`` builds, as SQLite's own ``EXPLAIN QUERY PLAN`` shows.

The helpers (strategies, ``answers``) are shared with tests/postgres/test_native_queries.py.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import astuple
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from asyncdb._evaluate import position_of
from asyncdb._query import index_fields, parse_query
from asyncdb._service import DatabaseService
from asyncdb.drivers.memory.driver import MemoryDriver
from asyncdb.drivers.sqlite import SQLiteDriver
from asyncdb.drivers.sqlite._query import index_statement
from asyncdb.drivers.sqlite._sql import (
    Params,
    after_clause,
    order_sql,
    position_values,
    where_sql,
)
from asyncdb.drivers.sqlite._tables import table

ITEMS = "items"

# -- shared with the PostgreSQL tests ---------------------------------------------------------
#: Code point order differs from case-folded and from locale order for these.
STRINGS = ["a", "B", "b", "A", "Z", "z", "é", "É", "e", "ß", "日本", "", "a b", "😀", "ab", "~"]
BIG = 2**63 - 1
_ints = st.one_of(
    st.integers(-20, 20),
    st.sampled_from([BIG, BIG - 1, BIG - 1000, -BIG - 1, -BIG, 2**53, 2**53 + 1]),
)
_fractions = st.integers(-160, 160).map(lambda i: i / 8)
_numbers = st.one_of(_ints, _fractions, st.sampled_from([0.1, -0.3, 1e-9, 2.5e15]))
_strings = st.one_of(st.sampled_from(STRINGS), st.text(st.sampled_from("aAbBéÉ😀 ~"), max_size=3))
_scalars = st.one_of(_numbers, _strings, st.sampled_from([None, True, False]))
_values = st.one_of(_scalars, st.sampled_from([[1], [], {"k": 1}, {}]))
_bodies = st.fixed_dictionaries(
    {},
    optional={
        "n": _values,
        "s": st.one_of(_strings, _values),
        "g": st.sampled_from(["x", "y", "X"]),
        "o": st.one_of(st.fixed_dictionaries({}, optional={"k": _values, "j": _strings}), _values),
    },
)
_paths = st.sampled_from(["n", "s", "g", "o.k", "o.j"])
_operators = st.sampled_from(["$eq", "$ne", "$gt", "$gte", "$lt", "$lte"])


def _condition(path: str, operator: str, value: Any) -> dict[str, Any]:
    if operator in ("$gt", "$gte", "$lt", "$lte") and (value is None or isinstance(value, bool)):
        operator = "$eq"  # ranges take numbers and strings only
    return {path: {operator: value}}


_single = st.builds(_condition, _paths, _operators, _scalars)
_where = st.one_of(
    st.just({}),
    _single,
    st.builds(lambda a, b: {**a, **b}, _single, _single),
    st.builds(lambda p, lo, hi: {p: {"$gte": lo, "$lt": hi}}, _paths, _numbers, _numbers),
    st.builds(lambda p, lo, hi: {p: {"$gt": lo, "$lte": hi}}, _paths, _strings, _strings),
    st.builds(lambda p, e: {p: {"$exists": e}}, _paths, st.booleans()),
    st.builds(lambda p, v: {p: {"$in": v}}, _paths, st.lists(_scalars, min_size=1, max_size=4)),
    st.builds(lambda g, p, v: {"g": g, p: v}, st.sampled_from(["x", "X"]), _paths, _scalars),
)
_order = st.one_of(
    st.none(),
    st.lists(
        st.sampled_from(["n", "-n", "s", "-s", "o.k", "-o.k", "g", "-g", "o", "-o"]), max_size=3
    ).filter(lambda keys: len({key.lstrip("-") for key in keys}) == len(keys)),
)
HYPOTHESIS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.differing_executors,
    ],
)


async def walk(
    db: DatabaseService, where: dict[str, Any], order_by: list[str] | None, limit: int
) -> list[list[str]]:
    """The ids of every page of ``find_page``."""
    pages: list[list[str]] = []
    cursor: str | None = None
    for _ in range(200):
        page = await db.find_page(
            ITEMS, where, order_by=order_by, limit=limit, cursor=cursor, strict=True
        )
        pages.append([doc["_id"] for doc in page.items])
        if page.next_cursor is None:
            return pages
        cursor = page.next_cursor
    raise AssertionError("find_page did not end")


async def answers(
    db: DatabaseService, where: dict[str, Any], order_by: list[str] | None, limit: int
) -> tuple[Any, ...]:
    """Everything a query answers: find (whole, limited, projected) and its pages."""
    found = await db.find(ITEMS, where, order_by=order_by, strict=True)
    limited = await db.find(ITEMS, where, order_by=order_by, limit=limit, strict=True)
    projected = await db.find(ITEMS, where, fields=["g"], order_by=order_by, strict=True)
    return (
        [doc["_id"] for doc in found],
        [doc["_id"] for doc in limited],
        projected,
        await walk(db, where, order_by, limit),
    )


async def check_against_reference(
    db: DatabaseService,
    bodies: list[dict[str, Any]],
    where: dict[str, Any],
    order_by: list[str] | None,
    limit: int,
) -> None:
    """``db`` answers exactly as the memory driver (the reference evaluator) does."""
    docs = [{"_id": f"r{i:02d}", **body} for i, body in enumerate(bodies)]
    reference = DatabaseService(MemoryDriver())
    await reference.save_many(ITEMS, docs)
    result = await db.save_many(ITEMS, docs)
    assert result.ok, result.failed
    try:
        got = await answers(db, where, order_by, limit)
        want = await answers(reference, where, order_by, limit)
        assert got[0] == want[0], (where, order_by)
        assert got[1] == want[1]
        assert [{k: v for k, v in d.items() if k != "_rev"} for d in got[2]] == [
            {k: v for k, v in d.items() if k != "_rev"} for d in want[2]
        ]
        assert got[3] == want[3]
    finally:
        removed = await db.delete_many(ITEMS, [doc["_id"] for doc in docs])
        assert removed.ok, removed.failed


#: Field names SQLite's paths cannot name, or that look like path syntax, or SQL.
HOSTILE = [
    'a"b',
    "a'b",
    "it's'); DROP TABLE x; --",
    "a\\b",
    "$",
    "$.a",
    "[0]",
    "a[0]",
    "tab\tkey",
    "bell\x07",
    "*",
    "{a,b}",
    "é\"'",
]


# -- SQLite -----------------------------------------------------------------------------------
@pytest.fixture
async def db(sqlite_path: Path) -> AsyncIterator[DatabaseService]:
    # A small page makes the driver's own paging (after its filter) part of every answer.
    service = DatabaseService(SQLiteDriver(str(sqlite_path), find_page_size=3))
    try:
        yield service
    finally:
        await service.aclose()


@HYPOTHESIS
@given(
    bodies=st.lists(_bodies, min_size=1, max_size=14),
    where=_where,
    order_by=_order,
    limit=st.integers(1, 4),
)
async def test_every_query_equals_the_reference(
    db: DatabaseService,
    bodies: list[dict[str, Any]],
    where: dict[str, Any],
    order_by: list[str] | None,
    limit: int,
) -> None:
    await check_against_reference(db, bodies, where, order_by, limit)


async def test_big_floats_and_ints_compare_exactly(db: DatabaseService) -> None:
    # 2**63 - 1024 is a float; the ints around it fall between its value and its shortest
    # decimal form (9.223372036854775e18): only an exact comparison orders them right.
    values: list[Any] = [BIG, 2**63 - 1024.0, 9223372036854774900, 9223372036854775000, 2.0**63]
    for order_by in (["n"], ["-n"]):
        await check_against_reference(db, [{"n": v} for v in values], {}, order_by, 2)
    bounds = {"n": {"$gt": 9223372036854774784, "$lte": 2**63 - 1024.0}}
    await check_against_reference(db, [{"n": v} for v in values], bounds, ["n"], 2)


async def test_strings_holding_nul_are_filtered_exactly(db: DatabaseService) -> None:
    # json_extract stops at U+0000: the SQL selects a superset, the driver's filter is exact.
    values = ["a", "a\x00", "a\x00b", "a\x00c", "b", "\x00"]
    bodies: list[dict[str, Any]] = [{"s": v} for v in values]
    for where in (
        {"s": "a\x00b"},
        {"s": "a"},
        {"s": {"$ne": "a"}},
        {"s": {"$gt": "a"}},
        {"s": {"$lte": "a\x00b"}},
        {"s": {"$in": ["a\x00", "b"]}},
    ):
        await check_against_reference(db, bodies, where, None, 10)


@pytest.mark.parametrize("name", HOSTILE)
async def test_hostile_field_names_neither_inject_nor_misaddress(
    db: DatabaseService, name: str, sqlite_path: Path
) -> None:
    escaped = name.replace("\\", "\\\\").replace(".", "\\.")
    bodies: list[dict[str, Any]] = [
        {name: 2, "x": {name: "b"}},
        {name: 1, "x": {name: "a"}},
        {"x": {name: "c"}, "a": {"b": 1}},
        {"a": 5, "$": {"a": 1}},
    ]
    for where, order_by in (
        ({escaped: 1}, None),
        ({escaped: {"$gte": 1}}, [f"-{escaped}"]),
        ({f"x.{escaped}": {"$lt": "c"}}, [f"x.{escaped}"]),
        ({escaped: {"$exists": False}}, [escaped]),
    ):
        await check_against_reference(db, bodies, where, order_by, 2)
    await db.ensure_index(ITEMS, [escaped], order_by=[f"-x.{escaped}"])
    await check_against_reference(db, bodies, {escaped: 1}, [f"-x.{escaped}"], 1)
    tables = sqlite3.connect(sqlite_path).execute("SELECT name FROM sqlite_master").fetchall()
    assert ("asyncdb:items",) in tables


async def test_strict_never_raises_and_nothing_is_logged(
    db: DatabaseService, caplog: pytest.LogCaptureFixture
) -> None:
    await db.save_many(ITEMS, [{"_id": f"d{i}", "n": i, "s": str(i)} for i in range(5)])
    with caplog.at_level(logging.WARNING, logger="asyncdb"):
        found = await db.find(ITEMS, {"n": {"$ne": 1}}, order_by=["-s", "n"], strict=True)
        assert [doc["_id"] for doc in found] == ["d4", "d3", "d2", "d0"]
        page = await db.find_page(ITEMS, {"n": {"$lt": 4}}, order_by=["s"], limit=2, strict=True)
        assert [doc["_id"] for doc in page.items] == ["d0", "d1"]
    assert not caplog.records


# -- EXPLAIN: the three application shapes run from the index ---------------------------------
def plan(path: Path, collection: str, where: dict[str, Any], order_by: list[str] | None) -> str:
    """SQLite's plan of the statement ``find`` sends for this query."""
    query = parse_query(where, None, order_by)
    params = Params()
    condition = where_sql(query, params)
    components = order_sql(query.order_by, params)
    order = ", ".join(f"{c.sql} {'DESC' if c.descending else 'ASC'}" for c in components)
    sql = (
        f"EXPLAIN QUERY PLAN SELECT id, rev, body FROM {table(collection)} "
        f"WHERE {condition} ORDER BY {order} LIMIT 21"
    )
    with sqlite3.connect(path) as connection:
        rows = connection.execute(sql, params.values).fetchall()
    return "\n".join(str(row[-1]) for row in rows)


SHAPES: list[tuple[str, list[str], list[str] | None, dict[str, Any]]] = [
    ("sessions", ["user_id"], ["-created_at"], {"user_id": "u3"}),
    ("tickets", ["status"], ["created_at"], {"status": "pending"}),
    ("store", ["user_id", "namespace"], None, {"user_id": "u3", "namespace": "n1"}),
]


@pytest.mark.parametrize(("collection", "fields", "order_by", "where"), SHAPES)
async def test_the_application_shapes_run_from_the_index(
    db: DatabaseService,
    sqlite_path: Path,
    collection: str,
    fields: list[str],
    order_by: list[str] | None,
    where: dict[str, Any],
) -> None:
    docs = [
        {
            "_id": f"d{i:05d}",
            "user_id": f"u{i % 50}",
            "namespace": f"n{i % 7}",
            "status": ["pending", "done", "open"][i % 3],
            "created_at": (i * 7919) % 2000 + (0.5 if i % 2 else 0),
        }
        for i in range(2000)
    ]
    await db.save_many(collection, docs)
    before = plan(sqlite_path, collection, where, order_by)
    assert "USING INDEX" not in before.replace("USING INDEX sqlite_autoindex", "")
    await db.ensure_index(collection, fields, order_by=order_by)
    with sqlite3.connect(sqlite_path) as connection:
        connection.execute("ANALYZE")
    statement = index_statement(collection, *index_fields(fields, order_by))
    assert statement is not None
    index = statement.split('"')[1]
    after = plan(sqlite_path, collection, where, order_by)
    assert f"USING INDEX {index}" in after, after
    assert "TEMP B-TREE" not in after, after
    if order_by:
        # A later page: the index scan starts at the cursor's position.
        query = parse_query(where, None, order_by)
        params = Params()
        condition = where_sql(query, params)
        components = order_sql(query.order_by, params)
        start = position_values(*astuple(position_of(query.order_by, "d01000", docs[1000])))
        condition += " AND " + after_clause(components, start, params)
        order = ", ".join(f"{c.sql} {'DESC' if c.descending else 'ASC'}" for c in components)
        sql = (
            f"EXPLAIN QUERY PLAN SELECT id FROM {table(collection)} "
            f"WHERE {condition} ORDER BY {order} LIMIT 21"
        )
        with sqlite3.connect(sqlite_path) as connection:
            later = " ".join(str(row[-1]) for row in connection.execute(sql, params.values))
        assert f"USING INDEX {index} (<expr>=? AND <expr>" in later, later
        assert "TEMP B-TREE" not in later, later
    # And the answer is the reference's.
    memory = DatabaseService(MemoryDriver())
    await memory.save_many(collection, docs)
    if collection == "sessions":
        got = await db.find_page(collection, where, order_by=order_by, limit=20, strict=True)
        want = await memory.find_page(collection, where, order_by=order_by, limit=20)
        assert got.items == [
            {**d, "_rev": g["_rev"]} for d, g in zip(want.items, got.items, strict=True)
        ]
    else:
        found = await db.find(collection, where, order_by=order_by, strict=True)
        wanted = await memory.find(collection, where, order_by=order_by)
        assert [d["_id"] for d in found] == [d["_id"] for d in wanted] and found


def test_resume_clause_chains_mixed_directions() -> None:
    query = parse_query({}, None, ["a", "-b"])
    params = Params()
    components = order_sql(query.order_by, params)
    clause = after_clause(components, ["x", 1.5, "id"], params)
    # a ascending, then (b, id) descending: two row values, chained; and a's key alone,
    # non-strictly, where an index scan can start.
    assert clause.count(" > ") == 1 and clause.count(" < ") == 1 and clause.count(" >= ") == 1
    assert params.values == ["x", 1.5, "id"]


async def test_a_database_indexed_by_the_old_version_still_works(
    db: DatabaseService, sqlite_path: Path
) -> None:
    await db.save_many(ITEMS, [{"_id": f"d{i}", "n": i % 3} for i in range(30)])
    with sqlite3.connect(sqlite_path) as connection:  # the form the previous version made
        connection.execute(
            f'CREATE INDEX "asyncdb:items:old" ON {table(ITEMS)} (json_extract(body, \'$."n"\'))'
        )
    await db.ensure_index(ITEMS, ["n"])
    await db.ensure_index(ITEMS, ["n"])  # again: a no-op
    found = await db.find(ITEMS, {"n": 1}, order_by=["n"], strict=True)
    assert [d["_id"] for d in found] == sorted(f"d{i}" for i in range(30) if i % 3 == 1)
    await db.save(ITEMS, "d99", {"n": 1})  # writes keep both indexes up to date
    assert len(await db.find(ITEMS, {"n": 1}, strict=True)) == 11
