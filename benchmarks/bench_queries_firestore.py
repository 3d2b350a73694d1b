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
import secrets

from asyncdb._service import DatabaseService
from asyncdb.drivers.firestore import FirestoreDriver
from benchmarks._harness import Row, print_table
from benchmarks._shapes import DOCS, fill, make_indexes, measure_shapes
from tests.backends.firestore import TEST_PROJECT, firestore_emulator


async def measure(host: str) -> list[Row]:
    prefix = f"benchq{secrets.token_hex(3)}_"
    # One process: it learns of its own indexes at once, so ensure_index need not wait.
    db = DatabaseService(
        FirestoreDriver(project=TEST_PROJECT, emulator_host=host, index_refresh_seconds=0)
    )
    indexed, plain = f"{prefix}indexed", f"{prefix}plain"
    every = dict.fromkeys(("sessions", "tickets", "store"), indexed)
    try:
        await make_indexes(db, every)
        await fill(db, {indexed, plain}, batch=500)
        rows = await measure_shapes(db, every, plain, "same, no index (fallback)")
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
