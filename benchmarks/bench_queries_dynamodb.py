"""The application's three query shapes on DynamoDB, through the global secondary indexes
``ensure_index`` makes, against the same queries answered without them (a Scan with a
filter expression; asyncdb orders and pages the matches).

10,000 documents (~150 B) in tables with the same content: one per shape with its index
(as the application's sessions, tickets and data-store collections are), made before the
documents are written (dynalite creates a GSI only with its table), and one without. Both
sides are asyncdb over the same server (dynalite by default, ``moto`` as the first
argument, or the endpoint named by ``ASYNCDB_TEST_DYNAMODB_URL``).
Run: ``python -m benchmarks.bench_queries_dynamodb [dynalite|moto]`` (or ``python -m
benchmarks.run queries_dynamodb``).
"""

from __future__ import annotations

import asyncio
import secrets
import sys

from asyncdb._service import DatabaseService
from asyncdb.drivers.dynamodb import DynamoDBDriver
from benchmarks._harness import Row, print_table
from benchmarks._shapes import DOCS, fill, make_indexes, measure_shapes
from tests.backends.dynamodb import DynamoDBEndpoint, dynamodb_server


async def measure(endpoint: DynamoDBEndpoint) -> list[Row]:
    prefix = f"benchq{secrets.token_hex(3)}_"
    db = DatabaseService(DynamoDBDriver(**endpoint.driver_kwargs(), index_refresh_seconds=0))
    plain = f"{prefix}plain"
    # A table per shape, indexed before its documents (dynalite makes a GSI only with
    # its table), as the application's collections are.
    indexed = {name: f"{prefix}{name}" for name in ("sessions", "tickets", "store")}
    try:
        await make_indexes(db, indexed)
        await fill(db, {*indexed.values(), plain})
        rows = await measure_shapes(db, indexed, plain, "same, no index (Scan)")
        print_table(f"DynamoDB ({endpoint.kind}) queries, {DOCS:,} documents: GSI vs Scan", rows)
        return rows
    finally:
        for collection in (*indexed.values(), plain):
            await db.drop_collection(collection)
        await db.aclose()


async def main(kind: str = "dynalite") -> list[Row]:
    with dynamodb_server(kind) as endpoint:
        return await measure(endpoint)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:2]))
