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
import itertools
import secrets
import sys
from collections.abc import Awaitable, Callable

from asyncdb._service import DatabaseService
from asyncdb.drivers.dynamodb import DynamoDBDriver
from benchmarks._harness import Row, paired, print_table
from tests.backends.dynamodb import DynamoDBEndpoint, dynamodb_server

DOCS = 10_000
USERS = 100  # 100 documents each
NAMESPACES = 5  # 20 documents per user and namespace
PENDING = 50  # 1 in 50 tickets is pending: 200 of them
COUNT = 5
ROUNDS = 3


def _documents() -> list[dict[str, object]]:
    return [
        {
            "_id": f"d{n:05}",
            "user_id": f"u{n % USERS}",
            "namespace": f"n{(n // USERS) % NAMESPACES}",
            "status": "pending" if n % PENDING == 0 else "done",
            "created_at": 1_700_000_000 + (n * 7919) % DOCS + 0.5,
            "title": "x" * 60,
        }
        for n in range(DOCS)
    ]


async def measure(endpoint: DynamoDBEndpoint) -> list[Row]:
    prefix = f"benchq{secrets.token_hex(3)}_"
    db = DatabaseService(DynamoDBDriver(**endpoint.driver_kwargs(), index_refresh_seconds=0))
    plain = f"{prefix}plain"
    indexed = {name: f"{prefix}{name}" for name in ("sessions", "tickets", "store")}
    docs = _documents()
    try:
        await db.ensure_index(indexed["sessions"], ["user_id"], order_by=["-created_at"])
        await db.ensure_index(indexed["tickets"], ["status"], order_by=["created_at"])
        await db.ensure_index(indexed["store"], ["user_id", "namespace"])
        for collection in (*indexed.values(), plain):
            for start in range(0, DOCS, 1000):
                assert (await db.save_many(collection, docs[start : start + 1000])).ok
        users = itertools.cycle(range(USERS))
        namespaces = itertools.cycle(range(NAMESPACES))

        def sessions(collection: str) -> Callable[[int], Awaitable[object]]:
            return lambda _: db.find_page(
                collection,
                {"user_id": f"u{next(users)}"},
                order_by=["-created_at"],
                limit=20,
            )

        def tickets(collection: str) -> Callable[[int], Awaitable[object]]:
            return lambda _: db.find(collection, {"status": "pending"}, order_by=["created_at"])

        def store(collection: str) -> Callable[[int], Awaitable[object]]:
            return lambda _: db.find(
                collection, {"user_id": f"u{next(users)}", "namespace": f"n{next(namespaces)}"}
            )

        rows: list[Row] = []
        for collection, name, shape in [
            (indexed["sessions"], "sessions: one user's 20 newest (of 100)", sessions),
            (indexed["tickets"], "tickets: the 200 pending, by creation", tickets),
            (indexed["store"], "store: one user's namespace (20)", store),
        ]:
            pair = await paired(
                shape(collection),
                shape(plain),
                concurrency=1,
                count=COUNT,
                rounds=ROUNDS,
                warm_up=True,
            )
            rows.append(Row(name, pair.rate, "same, no index (Scan)", pair.baseline_rate))
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
