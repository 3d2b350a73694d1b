"""The two places where JSONB alone would not give the contract's order, and the upgrade of
tables written before asyncdb handled them: strings holding U+0000 or U+0001 (JSONB refuses
U+0000, so ``body`` holds an escape that must keep code point order), and floats of 2**53
or more beside 64-bit ints (JSONB would keep the float's shortest decimal form, which can
lie on the other side of an int than the float's exact value)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import asyncpg
import pytest

from asyncdb._service import DatabaseService
from asyncdb.drivers.postgres import PostgresDriver
from asyncdb.drivers.postgres._recast import MARK
from asyncdb.testing._suite.ordering import expected
from tests.sqlite.test_native_queries import ITEMS, check_against_reference

#: Code point order: "" < "\x00" < "\x00\x05" < "\x01" < "\x01\x00" < "\x02" < "a".
CONTROL = ["\x01", "\x00\x05", "a", "\x02", "", "\x01\x00", "\x00"]
#: A float whose shortest decimal form (…389000) lies above an int (…388950) that its
#: exact value (…388928) lies below.
FLOAT = 4.611686018427389e18
BETWEEN = 4611686018427388950
NUMBERS: list[Any] = [BETWEEN, FLOAT, int(FLOAT), int(FLOAT) - 1, 2**63 - 1, 9.223372036854776e18]


@pytest.mark.parametrize(
    ("where", "order_by"),
    [
        ({}, ["s"]),
        ({}, ["-s"]),
        ({"s": {"$gt": "\x00"}}, ["s"]),
        ({"s": {"$lt": "\x01"}}, ["-s"]),
        ({"s": "\x01\x00"}, None),
        ({"s": {"$in": ["\x00", "\x01"]}}, ["s"]),
    ],
    ids=repr,
)
async def test_control_characters_order_by_code_point(
    make_driver: Callable[..., PostgresDriver], where: dict[str, Any], order_by: list[str] | None
) -> None:
    db = DatabaseService(make_driver(find_page_size=2))
    try:
        await check_against_reference(db, [{"s": s} for s in CONTROL], where, order_by, 2)
    finally:
        await db.aclose()


@pytest.mark.parametrize(
    ("where", "order_by"),
    [
        ({}, ["n"]),
        ({}, ["-n"]),
        ({"n": {"$gt": BETWEEN}}, ["n"]),
        ({"n": {"$lte": FLOAT}}, ["-n"]),
        ({"n": FLOAT}, None),
        ({"n": {"$gte": 9.223372036854776e18}}, None),
    ],
    ids=repr,
)
async def test_big_floats_order_exactly_among_ints(
    make_driver: Callable[..., PostgresDriver], where: dict[str, Any], order_by: list[str] | None
) -> None:
    db = DatabaseService(make_driver(find_page_size=2))
    try:
        await check_against_reference(db, [{"n": n} for n in NUMBERS], where, order_by, 2)
    finally:
        await db.aclose()


def _old_escape(value: Any) -> Any:
    """``body`` as asyncdb wrote it before: U+0001 -> U+0001 U+0001, U+0000 -> U+0001
    U+0002 (not in code point order), floats as json writes them."""
    if isinstance(value, str):
        return value.replace("\x01", "\x01\x01").replace("\x00", "\x01\x02")
    if isinstance(value, dict):
        return {_old_escape(k): _old_escape(v) for k, v in value.items()}
    return value


async def test_a_table_from_before_is_upgraded_once(
    make_driver: Callable[..., PostgresDriver], raw: asyncpg.Connection, table: str
) -> None:
    first = DatabaseService(make_driver())
    docs = [{"_id": f"c{i}", "s": s} for i, s in enumerate(CONTROL)]
    docs += [{"_id": f"n{i}", "n": n} for i, n in enumerate(NUMBERS)]
    assert (await first.save_many(ITEMS, docs)).ok
    await first.aclose()
    assert await raw.fetchval(f"SELECT obj_description('\"{table}\"'::regclass)") == MARK
    # Make it a table of the earlier version: old body forms, no mark.
    for row in await raw.fetch(f'SELECT collection, id, doc FROM "{table}"'):
        old = json.dumps(_old_escape(json.loads(row["doc"])))
        await raw.execute(
            f'UPDATE "{table}" SET body = $3::jsonb WHERE collection = $1 AND id = $2',
            row["collection"],
            row["id"],
            old,
        )
    await raw.execute(f'COMMENT ON TABLE "{table}" IS NULL')
    stale = DatabaseService(make_driver())
    # Without the upgrade these answers are wrong (the test of the test).
    driver = make_driver()
    driver._transport._ready = True  # skip the start-up check and its upgrade
    unupgraded = DatabaseService(driver)
    by_s = [d["_id"] for d in await unupgraded.find(ITEMS, {"s": {"$gte": ""}}, order_by=["s"])]
    assert by_s != [f"c{CONTROL.index(s)}" for s in sorted(CONTROL)]
    await unupgraded.aclose()
    try:
        found = await stale.find(ITEMS, {"s": {"$gte": ""}}, order_by=["s"])
        assert [d["_id"] for d in found] == [f"c{CONTROL.index(s)}" for s in sorted(CONTROL)]
        numbers = await stale.find(ITEMS, {"n": {"$gt": BETWEEN}}, order_by=["n"])
        assert [d["_id"] for d in numbers] == expected(docs, {"n": {"$gt": BETWEEN}}, ["n"])
        assert await raw.fetchval(f"SELECT obj_description('\"{table}\"'::regclass)") == MARK
        reads = {d["_id"]: d for d in await stale.list_all(ITEMS)}
        assert [{k: v for k, v in reads[d["_id"]].items() if k != "_rev"} for d in docs] == docs
    finally:
        await stale.aclose()
