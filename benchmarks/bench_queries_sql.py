"""The application's three query shapes on SQLite and PostgreSQL: through the index
``ensure_index`` builds against the same query as a full scan.

Each backend gets the same 10,000 documents twice: once in a collection (SQLite) or table
(PostgreSQL) with the shape's index, once without any. Both sides run the same native
``find``/``find_page`` through the face, so the only difference is the index: without
it, SQLite reads the whole table and sorts, PostgreSQL a sequential scan and a sort.
The shapes:

- (a) "this user's chat sessions, newest first, 20 at a time":
  ``find_page("sessions", {"user_id": u}, order_by=["-created_at"], limit=20)``;
- (b) "pending tickets ordered by creation":
  ``find("tickets", {"status": "pending"}, order_by=["created_at"])``;
- (b') the same, one page of 20 (``find_page``): where the index's order pays;
- (c) "a user's data-store entries in one namespace":
  ``find("store", {"user_id": u, "namespace": n})``.

Cardinalities: 500 users (20 sessions each), 5 statuses (2,000 pending), 500 users x 4
namespaces (5 entries each). Each figure is the median of alternating rounds (who goes
first changes every round). Run: ``python -m benchmarks.bench_queries_sql``.
"""

from __future__ import annotations

import asyncio
import secrets
import sqlite3
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg

from asyncdb._service import DatabaseService
from asyncdb.drivers.postgres import PostgresDriver
from asyncdb.drivers.sqlite import SQLiteDriver
from benchmarks._harness import Row, print_table
from benchmarks._harness import paired as measure_pair
from tests.backends.postgres import postgres_server

DOCUMENTS = 10_000
ROUNDS = 5
USERS = 500


def documents() -> list[dict[str, Any]]:
    return [
        {
            "_id": f"d{i:06d}",
            "user_id": f"u{i % USERS}",
            "namespace": f"n{(i // USERS) % 4}",
            "status": ["pending", "done", "open", "closed", "stale"][i % 5],
            "created_at": (i * 7919) % DOCUMENTS + (0.5 if i % 2 else 0),
            "title": f"document {i}",
        }
        for i in range(DOCUMENTS)
    ]


#: (label, client CPU µs per query through the index, the same without it).
CPU: list[tuple[str, float, float]] = []
Query = Callable[[DatabaseService, int], Awaitable[object]]


async def sessions(db: DatabaseService, i: int) -> object:
    page = await db.find_page(
        "sessions", {"user_id": f"u{i % USERS}"}, order_by=["-created_at"], limit=20
    )
    assert len(page.items) == 20
    return page


async def tickets(db: DatabaseService, i: int) -> object:
    found = await db.find("tickets", {"status": "pending"}, order_by=["created_at"])
    assert len(found) == DOCUMENTS // 5
    return found


async def tickets_page(db: DatabaseService, i: int) -> object:
    page = await db.find_page("tickets", {"status": "pending"}, order_by=["created_at"], limit=20)
    assert len(page.items) == 20
    return page


async def store(db: DatabaseService, i: int) -> object:
    found = await db.find("store", {"user_id": f"u{i % USERS}", "namespace": f"n{i % 4}"})
    return found


SHAPES: list[tuple[str, str, Query, list[str], list[str] | None, int]] = [
    ("(a) sessions, newest 20", "sessions", sessions, ["user_id"], ["-created_at"], 60),
    ("(b) pending tickets, by creation", "tickets", tickets, ["status"], ["created_at"], 6),
    ("(b') tickets, first page of 20", "tickets", tickets_page, ["status"], ["created_at"], 60),
    ("(c) store, user and namespace", "store", store, ["user_id", "namespace"], None, 60),
]


async def fill(db: DatabaseService, collections: list[str]) -> None:
    docs = documents()
    for collection in collections:
        for start in range(0, len(docs), 1000):
            result = await db.save_many(collection, docs[start : start + 1000])
            assert result.ok, result.failed


def on(query: Query, db: DatabaseService) -> Callable[[int], Awaitable[object]]:
    """``query`` against ``db``, as the harness calls it (with the call's index)."""
    return lambda i: query(db, i)


async def compare(
    label: str, indexed: DatabaseService, scanned: DatabaseService, analyze: Callable[[], Any]
) -> list[Row]:
    """Every shape on ``indexed`` (after its ensure_index) against ``scanned`` (no index)."""
    rows: list[Row] = []
    for name, collection, query, fields, order_by, count in SHAPES:
        await indexed.ensure_index(collection, fields, order_by=order_by)
        await analyze()
        pair = await measure_pair(
            on(query, indexed),
            on(query, scanned),
            concurrency=1,
            count=count,
            rounds=ROUNDS,
            warm_up=True,
        )
        rows.append(Row(f"{label} {name}", pair.rate, "full scan", pair.baseline_rate))
        CPU.append((f"{label} {name}", pair.cpu_us, pair.baseline_cpu_us))
    return rows


async def sqlite_rows() -> list[Row]:
    folder = Path(tempfile.mkdtemp(prefix="asyncdb-bench-queries-"))
    indexed = DatabaseService(SQLiteDriver(str(folder / "indexed.sqlite3"), synchronous="normal"))
    scanned = DatabaseService(SQLiteDriver(str(folder / "scanned.sqlite3"), synchronous="normal"))
    try:
        for db in (indexed, scanned):
            await fill(db, ["sessions", "tickets", "store"])

        async def analyze() -> None:
            # ANALYZE gives the planner the statistics a long-lived database has.
            with sqlite3.connect(folder / "indexed.sqlite3") as connection:
                connection.execute("ANALYZE")

        return await compare("sqlite", indexed, scanned, analyze)
    finally:
        await indexed.aclose()
        await scanned.aclose()


async def postgres_rows(url: str) -> list[Row]:
    suffix = secrets.token_hex(4)
    tables = (f"bench_q_indexed_{suffix}", f"bench_q_scanned_{suffix}")
    indexed = DatabaseService(PostgresDriver(url, table=tables[0]))
    scanned = DatabaseService(PostgresDriver(url, table=tables[1]))
    connection = await asyncpg.connect(url)
    try:
        for db in (indexed, scanned):
            await fill(db, ["sessions", "tickets", "store"])

        async def analyze() -> None:
            for table in tables:
                await connection.execute(f'ANALYZE "{table}"')

        return await compare("postgres", indexed, scanned, analyze)
    finally:
        await indexed.aclose()
        await scanned.aclose()
        for table in tables:
            await connection.execute(f'DROP TABLE IF EXISTS "{table}"')
        await connection.close()


async def main() -> list[Row]:
    rows = await sqlite_rows()
    print_table("SQLite: the three shapes, through the index vs a full scan", rows)
    with postgres_server() as url:
        pg = await postgres_rows(url)
    print_table("PostgreSQL: the three shapes, through the index vs a full scan", pg)
    print("\n| query | client CPU µs, index | client CPU µs, full scan |\n|---|---:|---:|")
    for label, indexed, scanned in CPU:
        print(f"| {label} | {indexed:,.0f} | {scanned:,.0f} |")
    return rows + pg


if __name__ == "__main__":
    asyncio.run(main())
