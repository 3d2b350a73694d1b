"""The SQLite driver's own promises: real revisions, conditional writes that are one
atomic statement, bulk chunks in one transaction, find executed in SQL (and on the
expression index), scans in code point order with bounded pages, exact stored text,
foreign rows, and a connection the caller owns."""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiosqlite
import pytest

from asyncdb import DatabaseService
from asyncdb._query import parse_query
from asyncdb.drivers.sqlite import SQLiteDriver
from asyncdb.drivers.sqlite._query import where_clause
from asyncdb.drivers.sqlite._tables import table
from asyncdb.errors import BackendError, ConfigurationError, ConflictError

REVISION = re.compile(r"[1-9][0-9]*-[0-9a-f]{16}")


@pytest.fixture
async def db(sqlite_path: Path) -> AsyncIterator[DatabaseService]:
    service = DatabaseService(SQLiteDriver(str(sqlite_path)))
    try:
        yield service
    finally:
        await service.aclose()


def raw(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None)


async def test_revisions_count_writes_and_never_repeat(db: DatabaseService) -> None:
    first = await db.save("items", "a", {"v": 1})
    second = await db.save("items", "a", {"v": 2})
    third = await db.save("items", "a", {**second, "v": 3})
    revs = [first["_rev"], second["_rev"], third["_rev"]]
    assert all(REVISION.fullmatch(rev) for rev in revs), revs
    assert [int(rev.partition("-")[0]) for rev in revs] == [1, 2, 3]
    await db.delete("items", "a")
    again = await db.create("items", "a", {"v": 1})
    assert again["_rev"].startswith("1-") and again["_rev"] != first["_rev"]
    with pytest.raises(ConflictError):  # a revision from before the delete never matches
        await db.save("items", "a", {"_rev": first["_rev"], "v": 9})


async def test_thirty_concurrent_updates_lose_nothing(db: DatabaseService) -> None:
    await db.save("counters", "c", {"n": 0})

    async def bump(doc: dict[str, Any]) -> dict[str, Any]:
        await asyncio.sleep(0)  # let the other updaters read the same revision
        return {**doc, "n": doc["n"] + 1}

    await asyncio.gather(*(db.update("counters", "c", bump, attempts=200) for _ in range(30)))
    assert (await db.get("counters", "c"))["n"] == 30


async def test_a_conditional_write_is_won_by_exactly_one_writer(db: DatabaseService) -> None:
    base = await db.save("items", "x", {"v": 0})

    async def attempt(n: int) -> str | None:
        try:
            return (await db.save("items", "x", {**base, "v": n}))["_rev"]
        except ConflictError:
            return None

    winners = [rev for rev in await asyncio.gather(*(attempt(n) for n in range(30))) if rev]
    assert len(winners) == 1
    assert (await db.get("items", "x"))["_rev"] == winners[0]


async def test_a_create_race_has_one_winner(db: DatabaseService) -> None:
    async def attempt(n: int) -> bool:
        try:
            await db.create("items", "new", {"n": n})
            return True
        except ConflictError:
            return False

    assert sum(await asyncio.gather(*(attempt(n) for n in range(20)))) == 1


async def test_stored_text_is_the_document_as_written(
    db: DatabaseService, sqlite_path: Path
) -> None:
    doc = {"z": 1, "a": 1.0, "m": [True, None, {"y": "é", "b": 2}], "": "empty key"}
    await db.save("items", "exact", doc)
    (text,) = raw(sqlite_path).execute(f"SELECT body FROM {table('items')}").fetchone()
    assert text == json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
    got = await db.get("items", "exact")
    assert list(got) == ["_id", "_rev", "z", "a", "m", ""]
    assert type(got["a"]) is float and got["m"][0] is True


async def test_scan_order_is_code_point_order(db: DatabaseService) -> None:
    # UTF-16 would put the astral character before U+FFFF; code points and UTF-8 do not.
    ids = ["\U00010000", "\uffff", "z", "Z", "é", "a/b", "a", "~"]
    await db.save_many("items", [{"_id": doc_id} for doc_id in ids])
    assert [doc["_id"] for doc in await db.list_all("items")] == sorted(ids)
    seen, cursor = [], None
    while True:
        page = await db.list_page("items", limit=3, cursor=cursor)
        seen += [doc["_id"] for doc in page.items]
        if (cursor := page.next_cursor) is None:
            break
    assert seen == sorted(ids)


async def test_iter_all_reads_bounded_pages(
    db: DatabaseService, monkeypatch: pytest.MonkeyPatch
) -> None:
    await db.save_many("items", [{"_id": f"d{n:04}", "n": n} for n in range(450)])
    driver = db._driver  # type: ignore[attr-defined]
    sizes: list[int] = []
    original = driver._transport.rows

    async def counted(*args: Any, **kwargs: Any) -> list[Any]:
        rows = await original(*args, **kwargs)
        sizes.append(len(rows))
        return rows

    monkeypatch.setattr(driver._transport, "rows", counted)
    count = 0
    async for _ in db.iter_all("items", page_size=50):
        count += 1
    assert count == 450 and max(sizes) <= 51 and len(sizes) >= 9


async def test_bulk_writes_are_one_transaction_per_chunk_with_outcomes(
    db: DatabaseService, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = await db.save("items", "old", {"v": 0})
    await db.save("items", "taken", {"v": 0})
    driver = db._driver  # type: ignore[attr-defined]
    transactions = 0
    original = driver._transport.transaction

    async def counted(*args: Any, **kwargs: Any) -> Any:
        nonlocal transactions
        transactions += 1
        return await original(*args, **kwargs)

    monkeypatch.setattr(driver._transport, "transaction", counted)
    docs: list[dict[str, Any]] = [{"_id": f"n{n:03}", "n": n} for n in range(230)]
    docs += [{**old, "v": 1}, {"_id": "stale", "_rev": "1-0000000000000000"}]
    result = await db.save_many("items", docs)
    assert transactions == 3  # 232 documents in chunks of 100
    by_id = {outcome.id: outcome for outcome in result.outcomes}
    assert by_id["old"].ok and by_id["old"].rev and by_id["old"].rev.startswith("2-")
    assert isinstance(by_id["stale"].error, ConflictError)
    assert sum(outcome.ok for outcome in result.outcomes) == 231
    deleted = await db.delete_many("items", [{"_id": "old", "_rev": old["_rev"]}, "n000", "gone"])
    assert [type(o.error) for o in deleted.outcomes] == [ConflictError, type(None), type(None)]
    assert (await db.get_many("items", ["n000", "old"]))["n000"] is None


async def test_find_runs_in_sql_on_the_expression_index(
    db: DatabaseService, sqlite_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await db.save_many(
        "items", [{"_id": f"d{n}", "kind": f"k{n % 10}", "n": n} for n in range(300)]
    )
    await db.ensure_index("items", ["kind"])
    driver = db._driver  # type: ignore[attr-defined]
    returned: list[int] = []
    original = driver._transport.rows

    async def counted(*args: Any, **kwargs: Any) -> list[Any]:
        rows = await original(*args, **kwargs)
        returned.append(len(rows))
        return rows

    monkeypatch.setattr(driver._transport, "rows", counted)
    found = await db.find("items", {"kind": "k3"})
    assert len(found) == 30 and returned == [30]  # filtered by SQLite, not by Python
    where, params = where_clause(parse_query({"kind": "k3"}))
    plan = raw(sqlite_path).execute(
        f"EXPLAIN QUERY PLAN SELECT id FROM {table('items')} WHERE {where}", params
    )
    assert "USING INDEX" in " ".join(str(row[-1]) for row in plan)


async def test_find_keeps_json_equality(db: DatabaseService) -> None:
    docs = {
        "int": 1,
        "float": 1.0,
        "true": True,
        "text": "1",
        "null": None,
        "list": [1],
        "object": {"a": 1},
        "object-text": '{"a":1}',
    }
    await db.save_many("items", [{"_id": k, "v": v} for k, v in docs.items()] + [{"_id": "none"}])

    async def ids(where: dict[str, Any]) -> list[str]:
        return sorted(doc["_id"] for doc in await db.find("items", where))

    assert await ids({"v": 1}) == ["float", "int"]
    assert await ids({"v": 1.0}) == ["float", "int"]
    assert await ids({"v": True}) == ["true"]
    assert await ids({"v": None}) == ["null"]
    assert await ids({"v": '{"a":1}'}) == ["object-text"]
    assert await ids({"v": {"$in": [True, "1"]}}) == ["text", "true"]
    assert await ids({"v": {"$in": [None, 1]}}) == ["float", "int", "null"]


async def test_a_field_sqlite_paths_cannot_name_is_still_found(db: DatabaseService) -> None:
    # (A backslash would do as well, but it is the query language's escape character.)
    odd = {'a"b': 1, "tab\tkey": 3, "bell\x07": 4}
    await db.save("items", "odd", odd)
    await db.save("items", "other", {'a"b': 2})
    for name, value in odd.items():
        assert [doc["_id"] for doc in await db.find("items", {name: value})] == ["odd"]
    await db.ensure_index("items", ['a"b'])  # nothing to index in SQL: no error


async def test_foreign_rows_never_break_reads_of_the_others(
    db: DatabaseService, sqlite_path: Path
) -> None:
    await db.save("items", "good", {"kind": "k"})
    connection = raw(sqlite_path)
    name = table("items")
    connection.executemany(
        f"INSERT INTO {name} (id, rev, body) VALUES (?, ?, ?)",
        [
            ("array", "1-x", "[1, 2]"),
            ("bad-rev", "has space", '{"kind": "k"}'),
            ("ctl\x01id", "1-x", '{"kind": "k"}'),
            ("foreign", "7-abc", '{"kind": "k", "_id": "elsewhere", "_rev": "9-z"}'),
        ],
    )
    with pytest.raises(sqlite3.IntegrityError):  # the table refuses a body that is not JSON
        connection.execute(f"INSERT INTO {name} VALUES ('junk', '1-x', 'not json')")
    listed = [doc["_id"] for doc in await db.list_all("items")]
    assert listed == ["foreign", "good"]
    assert sorted(d["_id"] for d in await db.find("items", {"kind": "k"})) == ["foreign", "good"]
    got = await db.get_many("items", ["good", "array", "foreign"])
    assert got["array"] is None and got["good"] is not None
    assert got["foreign"] == {"_id": "foreign", "_rev": "7-abc", "kind": "k"}
    with pytest.raises(BackendError, match="not a JSON object"):
        await db.get("items", "array")
    updated = await db.update("items", "foreign", lambda doc: {**doc, "kind": "mine"})
    assert updated["_rev"].startswith("8-")


async def test_a_callers_connection_is_used_and_left_open(sqlite_path: Path) -> None:
    sqlite_path.parent.mkdir(parents=True)
    async with aiosqlite.connect(sqlite_path, isolation_level=None) as connection:
        service = DatabaseService(SQLiteDriver(client=connection))
        saved = await service.save("items", "a", {"v": 1})
        assert (await service.get("items", "a")) == saved
        await service.aclose()
        # Still open and usable: what the library did not open, it does not close.
        rows = await connection.execute_fetchall(f"SELECT id FROM {table('items')}")
        assert [row[0] for row in rows] == ["a"]


async def test_a_callers_connection_outside_autocommit_is_refused(sqlite_path: Path) -> None:
    sqlite_path.parent.mkdir(parents=True)
    async with aiosqlite.connect(sqlite_path) as connection:  # sqlite3's legacy mode
        service = DatabaseService(SQLiteDriver(client=connection))
        with pytest.raises(ConfigurationError, match="autocommit"):
            await service.save("items", "a", {"v": 1})
        await service.aclose()


async def test_two_services_on_one_file_see_each_others_writes(sqlite_path: Path) -> None:
    first = DatabaseService(SQLiteDriver(str(sqlite_path)))
    second = DatabaseService(SQLiteDriver(str(sqlite_path)))
    try:
        saved = await first.save("items", "a", {"v": 1})
        assert await second.get("items", "a") == saved
        await second.save("items", "a", {**saved, "v": 2})
        with pytest.raises(ConflictError):
            await first.save("items", "a", {**saved, "v": 3})
        assert await first.list_collections() == ["items"]
    finally:
        await first.aclose()
        await second.aclose()


async def test_no_statement_of_another_task_runs_inside_a_transaction(
    db: DatabaseService,
) -> None:
    await db.save("items", "before", {"v": 0})
    transport = db._driver._transport  # type: ignore[attr-defined]
    inside = asyncio.Event()

    async def work(statement: Any) -> None:
        await statement(f"INSERT INTO {table('items')} VALUES ('uncommitted', '1-x', '{{}}')", ())
        inside.set()
        await asyncio.sleep(0.05)  # the other task's read and write are submitted now
        raise RuntimeError("the transaction fails and is rolled back")

    failing = asyncio.create_task(transport.transaction(work, what="test"))
    await inside.wait()
    # Neither waits inside the open transaction: the read never sees its uncommitted row,
    # the write is not rolled back with it.
    read, saved = await asyncio.gather(
        db.get_many("items", ["uncommitted"]), db.save("items", "single", {"v": 1})
    )
    with pytest.raises(RuntimeError):
        await failing
    assert read == {"uncommitted": None}
    assert (await db.get("items", "single"))["_rev"] == saved["_rev"]
    assert (await db.get_many("items", ["uncommitted"]))["uncommitted"] is None
