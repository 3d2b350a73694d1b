"""The application's three query shapes on CouchDB, through the views ``ensure_index``
makes, against the same queries answered without them (the fallback: CouchDB filters its
``_all_docs`` by a Mango selector, asyncdb orders and pages the matches).

10,000 documents (~150 B) in two databases with the same content; one has the three
indexes. Both sides are asyncdb over the same server (pouchdb-server started here, or the
CouchDB named by ``ASYNCDB_TEST_COUCHDB_URL``). Each side runs once unmeasured first (the
first read of a view builds it), then alternating rounds. Run:
``python -m benchmarks.bench_queries_couchdb`` (or ``python -m benchmarks.run
queries_couchdb``).
"""

from __future__ import annotations

import asyncio
import secrets

from asyncdb._service import DatabaseService
from asyncdb.drivers.couchdb import CouchDBDriver
from benchmarks._harness import Row, print_table
from benchmarks._shapes import DOCS, fill, make_indexes, measure_shapes
from tests.backends.couchdb import couchdb_server

POOL = 16


async def measure(url: str) -> list[Row]:
    prefix = f"benchq{secrets.token_hex(3)}_"
    db = DatabaseService(CouchDBDriver(url, pool_size=POOL))
    indexed, plain = f"{prefix}indexed", f"{prefix}plain"
    try:
        await make_indexes(db, dict.fromkeys(("sessions", "tickets", "store"), indexed))
        await fill(db, {indexed, plain})
        rows = await measure_shapes(
            db,
            dict.fromkeys(("sessions", "tickets", "store"), indexed),
            plain,
            "same, no index (fallback)",
        )
        print_table(f"CouchDB queries, {DOCS:,} documents: view vs fallback", rows)
        return rows
    finally:
        await db.drop_collection(indexed)
        await db.drop_collection(plain)
        await db.aclose()


async def main() -> list[Row]:
    with couchdb_server() as url:
        return await measure(url)


if __name__ == "__main__":
    asyncio.run(main())
