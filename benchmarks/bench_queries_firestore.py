"""The application's three query shapes on Firestore, through the index keys
``ensure_index`` makes, against the same queries answered without them (the fallback:
Firestore's equality filter on the document fields, asyncdb orders and pages the
matches).

10,000 documents (~150 B) in two collections with the same content; one has the three
indexes. Both sides are asyncdb over the same Firestore emulator (started here, or the one
named by ``ASYNCDB_TEST_FIRESTORE_EMULATOR_HOST``); the emulator is not Firestore, so the
ratios say more than the rates. Each side runs once unmeasured first, then alternating
rounds. Run: ``python -m benchmarks.bench_queries_firestore`` (or ``python -m
benchmarks.run queries_firestore``).
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
from collections.abc import Awaitable, Callable

from asyncdb._service import DatabaseService
from asyncdb.drivers.firestore import FirestoreDriver
from benchmarks._harness import Row, paired, print_table
from tests.backends.firestore import TEST_PROJECT, firestore_emulator

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


async def measure(host: str) -> list[Row]:
    prefix = f"benchq{secrets.token_hex(3)}_"
    # One process: it learns of its own indexes at once, so ensure_index need not wait.
    db = DatabaseService(
        FirestoreDriver(project=TEST_PROJECT, emulator_host=host, index_refresh_seconds=0)
    )
    indexed, plain = f"{prefix}indexed", f"{prefix}plain"
    docs = _documents()
    try:
        await db.ensure_index(indexed, ["user_id"], order_by=["-created_at"])
        await db.ensure_index(indexed, ["status"], order_by=["created_at"])
        await db.ensure_index(indexed, ["user_id", "namespace"])
        for collection in (indexed, plain):
            for start in range(0, DOCS, 500):
                assert (await db.save_many(collection, docs[start : start + 500])).ok
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
        for name, shape in [
            ("sessions: one user's 20 newest (of 100)", sessions),
            ("tickets: the 200 pending, by creation", tickets),
            ("store: one user's namespace (20)", store),
        ]:
            pair = await paired(
                shape(indexed),
                shape(plain),
                concurrency=1,
                count=COUNT,
                rounds=ROUNDS,
                warm_up=True,
            )
            rows.append(Row(name, pair.rate, "same, no index (fallback)", pair.baseline_rate))
        print_table(f"Firestore queries, {DOCS:,} documents: index keys vs fallback", rows)
        return rows
    finally:
        await db.drop_collection(indexed)
        await db.drop_collection(plain)
        await db.aclose()


async def main() -> list[Row]:
    with firestore_emulator() as host:
        return await measure(host)


if __name__ == "__main__":
    asyncio.run(main())
