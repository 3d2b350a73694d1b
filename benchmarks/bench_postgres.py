"""The PostgreSQL driver through the face against raw asyncpg issuing the same statements.

Both sides talk to the same server (PostgreSQL started here from the Debian package, or
the server named by ``ASYNCDB_TEST_POSTGRES_URL``) through one asyncpg pool each, of the
same size, statement timeout and (no-op) reset. The baseline does the least a correct
client must: send the statement with the document's JSON, parse the JSON it gets back. The
difference is asyncdb's cost: validation, copies, the revision, error mapping.

A second comparison prices the exact-types promise: the driver's save (the exact JSON
text beside JSONB, from one parameter) against a raw save that stores JSONB only.
Run: ``python -m benchmarks.bench_postgres``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import secrets
import statistics
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from asyncdb._service import DatabaseService
from asyncdb.drivers.postgres import PostgresDriver
from asyncdb.drivers.postgres._bulk import _put_many_sql
from asyncdb.drivers.postgres._tables import Table
from benchmarks._harness import Row, ops_per_second, print_table
from benchmarks._harness import paired as measure_pair
from benchmarks.bench_memory import one_kb_document
from tests.backends.postgres import postgres_server

COUNT = 300
ROUNDS = 5
CONCURRENCY = 32
BULK = 1_000
POOL = 32
#: (label, asyncdb client CPU µs/op, raw client CPU µs/op), in measuring order.
CPU_ROWS: list[tuple[str, float, float]] = []
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


async def _no_reset(connection: asyncpg.Connection) -> None:
    """The same pool reset as the driver's: none (see its _transport)."""


class RawPostgres:
    """asyncpg alone: the driver's statements for get and save, and a JSONB-only save."""

    def __init__(self, pool: asyncpg.Pool, table: Table) -> None:
        self.pool = pool
        self.table = table
        t = table.sql
        self.jsonb_only = (
            f"INSERT INTO {t} AS d (collection, id, rev, body) VALUES ($1, $2, $3, $4::jsonb) "
            "ON CONFLICT (collection, id) DO UPDATE SET rev = excluded.rev, body = excluded.body "
            "RETURNING rev"
        )
        # The driver's own bulk statement (per-document conditions and outcomes).
        self.many = _put_many_sql(table)

    async def get(self, collection: str, doc_id: str) -> Any:
        row = await self.pool.fetchrow(self.table.get, collection, doc_id)
        return json.loads(row[1])

    async def save(self, collection: str, doc_id: str, doc: dict[str, Any]) -> Any:
        token = secrets.token_hex(8)
        args = (collection, doc_id, token, _dumps(doc), None, None)
        return await self.pool.fetchval(self.table.put_any, *args)

    async def save_jsonb_only(self, collection: str, doc_id: str, doc: dict[str, Any]) -> Any:
        rev = "1-" + secrets.token_hex(8)
        return await self.pool.fetchval(self.jsonb_only, collection, doc_id, rev, _dumps(doc))

    async def bulk(self, collection: str, docs: list[dict[str, Any]]) -> Any:
        ids = [doc["_id"] for doc in docs]
        texts = [_dumps({k: v for k, v in doc.items() if k != "_id"}) for doc in docs]
        none = [None] * len(docs)
        tokens = [secrets.token_hex(8) for _ in docs]
        args = (ids, none, texts, none, none, [0] * len(docs), tokens)
        return await self.pool.fetch(self.many, collection, *args)


async def paired(
    label: str,
    face: Callable[[int], Awaitable[object]],
    raw: Callable[[int], Awaitable[object]],
    concurrency: int,
    count: int = COUNT,
) -> tuple[float, float]:
    """The harness's alternating rounds; the CPU per call is kept for the CPU table."""
    pair = await measure_pair(
        face, raw, concurrency=concurrency, count=count, rounds=ROUNDS, warm_up=True
    )
    CPU_ROWS.append((label, pair.cpu_us, pair.baseline_cpu_us))
    return pair.rate, pair.baseline_rate


async def measure(url: str) -> list[Row]:
    table = Table(f"bench_{secrets.token_hex(4)}")
    driver = PostgresDriver(url, table=table.name, pool_size=POOL)
    db = DatabaseService(driver)
    await db.open()  # creates the table
    pool = await asyncpg.create_pool(
        url, min_size=POOL, max_size=POOL, reset=_no_reset, command_timeout=30.0
    )
    raw = RawPostgres(pool, table)
    face_c, raw_c = "face", "raw"
    doc = one_kb_document(1)
    size = len(json.dumps(doc))
    ids = itertools.count()
    try:
        for index in range(COUNT):
            await db.save(face_c, f"id{index}", doc)
            await raw.save(raw_c, f"id{index}", doc)
        rows = []
        for concurrency in (1, CONCURRENCY):
            label = "sequential" if concurrency == 1 else f"{concurrency} at once"
            get, base_get = await paired(
                f"get, {label}",
                lambda i: db.get(face_c, f"id{i}"),
                lambda i: raw.get(raw_c, f"id{i}"),
                concurrency,
            )
            rows.append(Row(f"get {size} B, {label}", get, "raw asyncpg SELECT", base_get))
            save, base_save = await paired(
                f"save, {label}",
                lambda _: db.save(face_c, f"n{next(ids)}", doc),
                lambda _: raw.save(raw_c, f"n{next(ids)}", doc),
                concurrency,
            )
            rows.append(Row(f"save new id, {label}", save, "raw asyncpg upsert", base_save))
        print_table("PostgreSQL driver through the face vs raw asyncpg (same statements)", rows)
        # The driver alone (no face: no validation, no copies), to tell its cost apart.
        alone = []
        for concurrency in (1, CONCURRENCY):
            label = "sequential" if concurrency == 1 else f"{concurrency} at once"
            get, base_get = await paired(
                f"driver get, {label}",
                lambda i: driver.get(face_c, f"id{i}"),
                lambda i: raw.get(raw_c, f"id{i}"),
                concurrency,
            )
            alone.append(Row(f"driver.get, {label}", get, "raw asyncpg SELECT", base_get))
            save, base_save = await paired(
                f"driver save, {label}",
                lambda _: driver.put(face_c, f"p{next(ids)}", doc),
                lambda _: raw.save(raw_c, f"n{next(ids)}", doc),
                concurrency,
            )
            alone.append(Row(f"driver.put new id, {label}", save, "raw asyncpg upsert", base_save))
        print_table("the driver alone, without the face", alone)
        rows += alone
        print("\n### client CPU per operation (this process only)\n")
        print("| operation | asyncdb µs/op | raw asyncpg µs/op |")
        print("|---|---:|---:|")
        for name, face_cpu, raw_cpu in CPU_ROWS:
            print(f"| {name} | {face_cpu:,.0f} | {raw_cpu:,.0f} |")

        exact, jsonb_only = await paired(
            "save, exact text + JSONB vs JSONB only",
            lambda _: raw.save(raw_c, f"x{next(ids)}", doc),
            lambda _: raw.save_jsonb_only(raw_c, f"j{next(ids)}", doc),
            1,
        )
        cost_rows = [Row("raw save, text + JSONB", exact, "raw save, JSONB only", jsonb_only)]
        print_table("the cost of keeping the exact JSON text (both raw asyncpg)", cost_rows)

        def batch(prefix: str) -> list[dict[str, Any]]:
            start = next(ids) * BULK
            return [{"_id": f"{prefix}{start + n}", **doc} for n in range(BULK)]

        bulk_rates, base_bulk_rates = [], []
        for _ in range(ROUNDS):
            bulk_rates.append(await ops_per_second(lambda _: db.save_many(face_c, batch("b")), 1))
            base_bulk_rates.append(await ops_per_second(lambda _: raw.bulk(raw_c, batch("r")), 1))
        bulk, base_bulk = statistics.median(bulk_rates), statistics.median(base_bulk_rates)
        singles = await ops_per_second(
            lambda _: db.save(face_c, f"s{next(ids)}", doc), BULK, repeats=1
        )
        bulk_rows = [
            Row(
                f"save_many {BULK} docs, docs/s",
                bulk * BULK,
                "raw, same statement",
                base_bulk * BULK,
            ),
            Row(f"save_many {BULK} docs, docs/s", bulk * BULK, f"{BULK} single saves", singles),
        ]
        print_table("bulk writes", bulk_rows)
        return rows + cost_rows + bulk_rows
    finally:
        await pool.execute(f"DROP TABLE IF EXISTS {table.sql}")
        await pool.close()
        await db.aclose()


FIND_DOCS = 5_000
FIND_USERS = 100


async def measure_find(url: str) -> list[Row]:
    """``find`` of one user's documents (1 in 100) with the index ``ensure_index`` made,
    against the same query on a table without it (a scan of the collection's rows)."""
    indexed_table, plain_table = (Table(f"bench_{secrets.token_hex(4)}") for _ in range(2))
    indexed = DatabaseService(PostgresDriver(url, table=indexed_table.name, pool_size=POOL))
    plain = DatabaseService(PostgresDriver(url, table=plain_table.name, pool_size=POOL))
    docs = [
        {"_id": f"d{n:05}", "user": f"u{n % FIND_USERS}", "n": n, "text": "x" * 200}
        for n in range(FIND_DOCS)
    ]
    try:
        await indexed.ensure_index("docs", ["user"])
        for db in (indexed, plain):
            assert (await db.save_many("docs", docs)).ok
        users = itertools.cycle(range(FIND_USERS))
        with_index, without = await paired(
            "find",
            lambda _: indexed.find("docs", {"user": f"u{next(users)}"}),
            lambda _: plain.find("docs", {"user": f"u{next(users)}"}),
            1,
            count=50,
        )
        rows = [
            Row(
                f"find 1 user of {FIND_USERS} in {FIND_DOCS:,} docs, with its index",
                with_index,
                "same find, no index",
                without,
            )
        ]
        print_table("find through an ensure_index index", rows)
        return rows
    finally:
        connection = await asyncpg.connect(url)
        for table in (indexed_table, plain_table):
            await connection.execute(f"DROP TABLE IF EXISTS {table.sql}")
        await connection.close()
        await indexed.aclose()
        await plain.aclose()


async def main() -> list[Row]:
    with postgres_server() as url:
        return await measure(url) + await measure_find(url)


if __name__ == "__main__":
    asyncio.run(main())
