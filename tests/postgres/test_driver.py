"""The PostgreSQL driver against a real server: what it stores, its revisions, concurrent
writers, rows it did not write, indexes and its one table."""

from __future__ import annotations

import asyncio
import json
import secrets
from typing import Any

import asyncpg
import pytest

from asyncdb._query import parse_query
from asyncdb._service import DatabaseService
from asyncdb.drivers.postgres import _ids
from asyncdb.drivers.postgres._query import find_sql
from asyncdb.drivers.postgres._tables import Table
from asyncdb.errors import BackendError, ConflictError

AWKWARD: dict[str, Any] = {
    "z": 1,
    "a": 1.0,
    "m": {"y": 2.5, "b": [1, 1.0, True, None, "x"], "": "empty key"},
    "big": 2**63 - 1,
    "neg": -(2**63),
    "tiny": 1e-130,
    "huge": 1.5e125,
    "nul": "a\x00b",
    "\x00key": "\x01",
    "ctrl": "\x01\x02\x1f",
    "unicode": "é😀\u2028",
    "bool": False,
    "ordered": {"3": 3, "1": 1, "2": 2, "10": 10},
}


async def test_exact_types_and_key_order_come_back(
    db: DatabaseService, raw: asyncpg.Connection, table: str
) -> None:
    saved = await db.save("things", "doc", AWKWARD)
    got = await db.get("things", "doc")
    body = {k: v for k, v in got.items() if k not in ("_id", "_rev")}
    # json.dumps compares order and int/float exactly (1 vs 1.0 differ as text).
    assert json.dumps(body) == json.dumps(AWKWARD)
    assert type(got["a"]) is float and type(got["z"]) is int
    assert list(got["ordered"]) == ["3", "1", "2", "10"]
    assert got["_rev"] == saved["_rev"]
    # Behind the driver: the JSONB form normalised what the text keeps.
    row = await raw.fetchrow(f'SELECT doc, body::text AS b FROM "{table}" WHERE id = $1', "doc")
    assert json.loads(row["doc"])["a"] == 1.0 and '"a":1.0' in row["doc"]
    assert '"a": 1.0' in row["b"]  # numeric keeps the scale, but not the float type


async def test_find_equality_is_json_equality_on_the_server(db: DatabaseService) -> None:
    await db.save_many(
        "things",
        [
            {"_id": "int", "v": 1},
            {"_id": "float", "v": 1.0},
            {"_id": "true", "v": True},
            {"_id": "null", "v": None},
            {"_id": "missing"},
            {"_id": "nul", "v": "a\x00b"},
            {"_id": "one", "v": "\x01"},
        ],
    )
    ids = lambda docs: sorted(d["_id"] for d in docs)  # noqa: E731
    assert ids(await db.find("things", {"v": 1})) == ["float", "int"]
    assert ids(await db.find("things", {"v": 1.0})) == ["float", "int"]
    assert ids(await db.find("things", {"v": True})) == ["true"]
    assert ids(await db.find("things", {"v": None})) == ["null"]
    assert ids(await db.find("things", {"v": "a\x00b"})) == ["nul"]
    assert ids(await db.find("things", {"v": "\x01"})) == ["one"]
    assert ids(await db.find("things", {"v": {"$in": [True, 1, "x"]}})) == ["float", "int", "true"]


async def test_find_is_one_statement_that_an_index_serves(
    db: DatabaseService, raw: asyncpg.Connection, table: str
) -> None:
    await db.save_many("things", [{"_id": f"d{i}", "n": i % 7, "k": "x"} for i in range(300)])
    await db.ensure_index("things", ["n", "k"])
    await db.ensure_index("things", ["n", "k"])  # again: a no-op
    await db.ensure_index("things", ["n"])
    names = await raw.fetch("SELECT indexdef FROM pg_indexes WHERE tablename = $1", table)
    composite = [r["indexdef"] for r in names if "asyncdb_q_" in r["indexdef"]]
    assert len(composite) == 2, names
    assert all("USING btree" in definition for definition in composite)
    found = await db.find("things", {"n": 3})
    assert sorted(d["_id"] for d in found) == sorted(f"d{i}" for i in range(300) if i % 7 == 3)
    sql, args, _ = find_sql(Table(table), parse_query({"n": 3}))
    await raw.execute(f'ANALYZE "{table}"')
    async with raw.transaction():
        # 300 rows: the planner would rather read them all; this shows the index can serve.
        await raw.execute("SET LOCAL enable_seqscan = off")
        plan = await raw.fetch("EXPLAIN " + sql, "things", *args, 1000)
    text = "\n".join(r[0] for r in plan)
    assert "asyncdb_q_" in text, text


async def test_revisions_change_and_never_come_back(db: DatabaseService) -> None:
    first = await db.save("things", "a", {"v": 1})
    second = await db.save("things", "a", {"v": 2, "_rev": first["_rev"]})
    assert first["_rev"].startswith("1-") and second["_rev"].startswith("2-")
    with pytest.raises(ConflictError):
        await db.save("things", "a", {"v": 3, "_rev": first["_rev"]})
    third = await db.save("things", "a", {"v": 3})  # unconditional: the next generation
    assert third["_rev"].startswith("3-")
    await db.delete("things", "a")
    again = await db.save("things", "a", {"v": 4})
    assert again["_rev"] != first["_rev"]
    with pytest.raises(ConflictError):
        await db.save("things", "a", {"v": 5, "_rev": third["_rev"]})
    with pytest.raises(ConflictError):
        await db.delete("things", "a", rev=third["_rev"])
    assert await db.delete("things", "a", rev=again["_rev"]) is True
    assert await db.list_all("things") == []


async def test_thirty_concurrent_updates_lose_nothing(db: DatabaseService) -> None:
    await db.save("things", "counter", {"n": 0, "seen": []})

    def bump(i: int) -> Any:
        def change(doc: dict[str, Any]) -> dict[str, Any]:
            doc["n"] += 1
            doc["seen"] = [*doc["seen"], i]
            return doc

        return change

    await asyncio.gather(*(db.update("things", "counter", bump(i)) for i in range(30)))
    final = await db.get("things", "counter")
    assert final["n"] == 30
    assert sorted(final["seen"]) == list(range(30))
    assert final["_rev"].startswith("31-")


async def test_rows_it_did_not_write_do_not_break_reads_of_others(
    db: DatabaseService, raw: asyncpg.Connection, table: str, caplog: pytest.LogCaptureFixture
) -> None:
    await db.save_many("things", [{"_id": "a", "v": 1}, {"_id": "z", "v": 2}])
    insert = (
        f'INSERT INTO "{table}" (collection, id, rev, doc, body, full_id) '
        "VALUES ($1, $2, $3, $4, $5::jsonb, $6)"
    )
    await raw.execute(insert, "things", "b-corrupt", "1-x", "not json", "{}", None)
    await raw.execute(insert, "things", "c-array", "1-x", "[1, 2]", "[]", None)
    await raw.execute(insert, "things", _ids.DIGEST + "0" * 64, "1-x", "{}", "{}", "wrong")
    # A row another program wrote with JSONB only: read from its body, with JSONB's types.
    await raw.execute(
        f'INSERT INTO "{table}" (collection, id, body) VALUES ($1, $2, $3::jsonb)',
        "things",
        "d-foreign",
        '{"v": 3}',
    )
    docs = await db.list_all("things")
    assert [d["_id"] for d in docs] == ["a", "d-foreign", "z"]
    assert docs[1]["v"] == 3 and docs[1]["_rev"].startswith("1-")
    with pytest.raises(BackendError, match="not an asyncdb document"):
        await db.get("things", "b-corrupt")
    many = await db.get_many("things", ["a", "b-corrupt", "z"])
    assert many["a"] is not None and many["z"] is not None and many["b-corrupt"] is None
    assert sorted(d["_id"] for d in await db.find("things", {"v": 2})) == ["z"]
    assert "not an asyncdb document" in caplog.text
    # The foreign row is writable with the revision it was read with.
    await db.save("things", "d-foreign", {"v": 4, "_rev": docs[1]["_rev"]})


async def test_long_ids_are_stored_under_a_digest_and_page_in_order(
    db: DatabaseService, raw: asyncpg.Connection, table: str
) -> None:
    long_id = "é" * 1500  # 3,000 bytes: past what a btree entry holds
    ids = ["a", long_id, "b", "~z"]
    await db.save_many("things", [{"_id": i, "n": n} for n, i in enumerate(ids)])
    key = await raw.fetchval(f'SELECT id FROM "{table}" WHERE full_id = $1', long_id)
    assert key == _ids.encode(long_id) and key.startswith(_ids.DIGEST)
    got = await db.get("things", long_id)
    assert got is not None and got["_id"] == long_id and got["n"] == 1
    seen: list[str] = []
    cursor = None
    while True:
        page = await db.list_page("things", limit=1, cursor=cursor)
        seen.extend(d["_id"] for d in page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == [long_id, "a", "b", "~z"]  # digests sort first, then code-point order


async def test_ids_page_in_code_point_order(db: DatabaseService) -> None:
    ids = ["B", "a", "Z", "é", "e", "😀", "\uffff", "_x", "~", "A b", "a-b", "a_b"]
    await db.save_many("things", [{"_id": i} for i in ids])
    assert [d["_id"] for d in await db.list_all("things")] == sorted(ids)


async def test_an_indexed_field_may_hold_a_long_value(db: DatabaseService) -> None:
    # A btree entry holds at most 2,704 bytes (after compression: hence random text); the
    # hash index holds any value.
    await db.ensure_index("things", ["text"])
    long_text = secrets.token_urlsafe(8_000)
    await db.save("things", "long", {"text": long_text})
    assert [d["_id"] for d in await db.find("things", {"text": long_text})] == ["long"]
