"""The SQLite driver through the face against raw aiosqlite issuing the same statements.

Both sides use the same database file (in a temporary folder), each over its own aiosqlite
connection configured alike (WAL journal, the same ``synchronous``, the same busy
timeout), each on its own table created with the driver's DDL. The baseline does the least
a correct client must: serialise the JSON, run the statement the driver runs, parse the
answer. The difference is asyncdb's cost: validation, copies, the record check and the
driver's transaction gate. Run: ``python -m benchmarks.bench_sqlite``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiosqlite

from asyncdb._service import DatabaseService
from asyncdb.drivers.sqlite import SQLiteDriver
from asyncdb.drivers.sqlite._codec import dumps, token
from asyncdb.drivers.sqlite._tables import create_table, table
from benchmarks._harness import Row, print_table
from benchmarks._harness import paired as measure_pair
from benchmarks.bench_memory import one_kb_document

COUNT = 400
ROUNDS = 7
CONCURRENCY = 32
#: (label, asyncdb client CPU µs/op, raw client CPU µs/op), in measuring order.
CPU_ROWS: list[tuple[str, float, float]] = []


class RawSQLite:
    """aiosqlite alone: the statements the driver runs for get and an unconditional save."""

    def __init__(self, connection: aiosqlite.Connection, collection: str) -> None:
        self.connection = connection
        name = table(collection)
        self.select = f"SELECT id, rev, body FROM {name} WHERE id = ?"
        self.upsert = (
            f"INSERT INTO {name} (id, rev, body) VALUES (?1, '1-' || ?2, ?3) "
            "ON CONFLICT (id) DO UPDATE SET "
            "rev = (CAST(rev AS INTEGER) + 1) || '-' || ?2, body = excluded.body RETURNING rev"
        )

    @classmethod
    async def open(cls, path: Path, collection: str, synchronous: str) -> RawSQLite:
        connection = await aiosqlite.connect(path, isolation_level=None, timeout=5.0)
        await connection.execute("PRAGMA journal_mode=WAL")
        await connection.execute(f"PRAGMA synchronous={synchronous}")
        await connection.execute(create_table(collection))
        return cls(connection, collection)

    async def get(self, doc_id: str) -> dict[str, Any]:
        rows = list(await self.connection.execute_fetchall(self.select, (doc_id,)))
        key, rev, body = rows[0]
        return {"_id": key, "_rev": rev, **json.loads(body)}

    async def save(self, doc_id: str, doc: dict[str, Any]) -> str:
        rows = list(
            await self.connection.execute_fetchall(self.upsert, (doc_id, token(), dumps(doc)))
        )
        rev: str = rows[0][0]
        return rev


async def paired(
    label: str,
    face: Callable[[int], Awaitable[object]],
    raw: Callable[[int], Awaitable[object]],
    concurrency: int,
    count: int = COUNT,
) -> tuple[float, float]:
    """The harness's alternating rounds; the CPU per call is kept for the CPU table."""
    pair = await measure_pair(face, raw, concurrency=concurrency, count=count, rounds=ROUNDS)
    CPU_ROWS.append((label, pair.cpu_us, pair.baseline_cpu_us))
    return pair.rate, pair.baseline_rate


async def measure(folder: Path, synchronous: str) -> list[Row]:
    path = folder / f"bench-{synchronous}.sqlite3"
    db = DatabaseService(SQLiteDriver(str(path), synchronous=synchronous))
    raw = await RawSQLite.open(path, "raw", synchronous.upper())
    doc = one_kb_document(1)
    size = len(json.dumps(doc))
    ids = itertools.count()
    try:
        for index in range(COUNT):
            await db.save("face", f"id{index}", doc)
            await raw.save(f"id{index}", doc)
        rows = []
        for concurrency in (1, CONCURRENCY):
            label = "sequential" if concurrency == 1 else f"{concurrency} at once"
            get, base_get = await paired(
                f"get, {label}",
                lambda i: db.get("face", f"id{i}"),
                lambda i: raw.get(f"id{i}"),
                concurrency,
            )
            rows.append(Row(f"get {size} B, {label}", get, "raw aiosqlite SELECT", base_get))
            save, base_save = await paired(
                f"save, {label}",
                lambda _: db.save("face", f"n{next(ids)}", doc),
                lambda _: raw.save(f"n{next(ids)}", doc),
                concurrency,
            )
            rows.append(Row(f"save new id, {label}", save, "raw aiosqlite upsert", base_save))
        print_table(
            f"SQLite driver through the face vs raw aiosqlite (synchronous={synchronous})", rows
        )
        # Which share is the driver's and which the face's (validation, copies, the guard).
        driver = db._driver
        alone, base_alone = await paired(
            "driver.get alone, sequential",
            lambda i: driver.get("face", f"id{i}"),
            lambda i: raw.get(f"id{i}"),
            1,
        )
        alone_row = Row("driver.get without the face, sequential", alone, "raw", base_alone)
        print_table("the driver alone (no face)", [alone_row])
        print("\n### client CPU per operation (this process, both threads)\n")
        print("| operation | asyncdb µs/op | raw aiosqlite µs/op |")
        print("|---|---:|---:|")
        for name, face_cpu, raw_cpu in CPU_ROWS:
            print(f"| {name} | {face_cpu:,.0f} | {raw_cpu:,.0f} |")
        CPU_ROWS.clear()
        return [*rows, alone_row]
    finally:
        await raw.connection.close()
        await db.aclose()


async def main() -> None:
    print(f"SQLite {aiosqlite.sqlite_version}, Python {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory(prefix="asyncdb-bench-") as folder:
        for synchronous in ("full", "normal"):
            await measure(Path(folder), synchronous)


if __name__ == "__main__":
    asyncio.run(main())
