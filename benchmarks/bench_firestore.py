"""The Firestore driver through the face against Google's AsyncClient, on the emulator.

Both sides make the same calls to the same emulator in the same run: a ``get`` is one
``GetDocument`` / ``BatchGetDocuments`` RPC and a ``save`` one ``Commit``, so the ratio is
the cost of asyncdb's face (validation, copies) and of the driver's codec, against the
library's own conversions. ``save_many`` of 1,000 documents (two ``BatchWrite`` RPCs) is
compared with 1,000 single saves and with the library's ``WriteBatch`` (two commits).
Run: ``python -m benchmarks.bench_firestore`` (starts the emulator unless
``ASYNCDB_TEST_FIRESTORE_EMULATOR_HOST`` names one).
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
from typing import Any

from asyncdb._service import DatabaseService
from asyncdb.drivers.firestore import FirestoreDriver
from benchmarks._harness import Row, ops_per_second, print_table
from benchmarks.bench_couchdb import coalescing_rows
from benchmarks.bench_memory import one_kb_document
from tests.backends.firestore import TEST_PROJECT, firestore_emulator

COUNT = 300
CONCURRENT_COUNT = 1_000
CONCURRENCY = 32
BULK = 1_000
WARM_UP = 300


async def measure(host: str) -> list[Row]:
    # The library's client only finds an emulator through the environment.
    os.environ["FIRESTORE_EMULATOR_HOST"] = host
    from google.cloud import firestore

    raw = firestore.AsyncClient(project=TEST_PROJECT)
    db = DatabaseService(FirestoreDriver(project=TEST_PROJECT, emulator_host=host))
    docs = [one_kb_document(index) for index in range(BULK)]
    size = len(json.dumps(docs[0]))
    ours, theirs = f"b{secrets.token_hex(4)}_ours", f"b{secrets.token_hex(4)}_raw"
    collection = raw.collection(theirs)

    async def raw_get(doc_id: str) -> dict[str, Any]:
        snapshot = await collection.document(doc_id).get()
        return {"_id": doc_id, "_rev": snapshot.update_time, **(snapshot.to_dict() or {})}

    async def raw_save(doc_id: str, doc: dict[str, Any]) -> dict[str, Any]:
        result = await collection.document(doc_id).set(doc)
        return {"_id": doc_id, "_rev": result.update_time, **doc}

    async def raw_save_many(prefix: str) -> None:
        for start in range(0, BULK, 500):
            batch = raw.batch()
            for index in range(start, start + 500):
                batch.set(collection.document(f"{prefix}{index}"), docs[index])
            await batch.commit()

    async def ours_save_many(prefix: str) -> None:
        result = await db.save_many(
            ours, [{**doc, "_id": f"{prefix}{i}"} for i, doc in enumerate(docs)]
        )
        assert result.ok

    def n(index: int) -> int:
        return index % BULK

    rows: list[Row] = []
    try:
        # Warm up both clients and the emulator's JVM before anything is measured.
        for index in range(WARM_UP):
            await db.save(ours, f"w{index}", docs[index])
            await raw_save(f"w{index}", docs[index])
            await db.get(ours, f"w{index}")
            await raw_get(f"w{index}")
        await ours_save_many("warm_")
        await raw_save_many("warm_")
        for concurrency, count in ((1, COUNT), (CONCURRENCY, CONCURRENT_COUNT)):
            label = "sequential" if concurrency == 1 else f"{concurrency} at once"
            save = await ops_per_second(
                lambda i: db.save(ours, f"id{n(i)}", docs[n(i)]), count, concurrency=concurrency
            )
            base_save = await ops_per_second(
                lambda i: raw_save(f"id{n(i)}", docs[n(i)]), count, concurrency=concurrency
            )
            get = await ops_per_second(
                lambda i: db.get(ours, f"id{n(i)}"), count, concurrency=concurrency
            )
            base_get = await ops_per_second(
                lambda i: raw_get(f"id{n(i)}"), count, concurrency=concurrency
            )
            rows.append(Row(f"save {size} B, {label}", save, "AsyncClient set()", base_save))
            rows.append(Row(f"get {size} B, {label}", get, "AsyncClient get()", base_get))

        bulk = await ops_per_second(lambda i: ours_save_many(f"m{i}_"), 1, repeats=3) * BULK
        base_bulk = await ops_per_second(lambda i: raw_save_many(f"m{i}_"), 1, repeats=3) * BULK
        singles = await ops_per_second(
            lambda i: db.save(ours, f"s{i}", docs[n(i)]), BULK, concurrency=CONCURRENCY, repeats=1
        )
        rows.append(Row("save_many 1,000 docs, docs/s", bulk, "AsyncClient WriteBatch", base_bulk))
        rows.append(
            Row(
                "save_many 1,000 docs, docs/s",
                bulk,
                f"asyncdb save() x1,000, {CONCURRENCY} at once",
                singles,
            )
        )
        print_table("Firestore driver through the face vs google-cloud-firestore (emulator)", rows)
    finally:
        await db.drop_collection(ours)
        await db.drop_collection(theirs)
        await db.aclose()
        raw.close()  # type: ignore[no-untyped-call]
    return rows


async def measure_coalescing(host: str) -> list[Row]:
    """32 concurrent gets and 32 concurrent saves: asyncdb (coalescing on, and off)
    against the library's AsyncClient making each call on its own (get() / set())."""
    os.environ["FIRESTORE_EMULATOR_HOST"] = host
    from google.cloud import firestore

    raw = firestore.AsyncClient(project=TEST_PROJECT)
    on = DatabaseService(FirestoreDriver(project=TEST_PROJECT, emulator_host=host))
    off = DatabaseService(FirestoreDriver(project=TEST_PROJECT, emulator_host=host), coalesce=False)
    docs = [one_kb_document(index) for index in range(COUNT)]
    ours, theirs = f"c{secrets.token_hex(4)}_ours", f"c{secrets.token_hex(4)}_raw"
    collection = raw.collection(theirs)
    try:
        assert (await on.save_many(ours, [{**d, "_id": f"id{i}"} for i, d in enumerate(docs)])).ok
        for start in range(0, COUNT, 100):
            batch = raw.batch()
            for index in range(start, min(COUNT, start + 100)):
                batch.set(collection.document(f"id{index}"), docs[index])
            await batch.commit()
        await off.get(ours, "id0")

        async def raw_get(i: int) -> None:
            snapshot = await collection.document(f"id{i % COUNT}").get()
            assert snapshot.exists

        async def raw_save(i: int) -> None:
            await collection.document(f"id{i % COUNT}").set(docs[i % COUNT])

        rows = await coalescing_rows(
            "get",
            lambda i: on.get(ours, f"id{i % COUNT}"),
            lambda i: off.get(ours, f"id{i % COUNT}"),
            raw_get,
            "AsyncClient get()",
        )
        rows += await coalescing_rows(
            "save",
            lambda i: on.save(ours, f"id{i % COUNT}", docs[i % COUNT]),
            lambda i: off.save(ours, f"id{i % COUNT}", docs[i % COUNT]),
            raw_save,
            "AsyncClient set()",
        )
        print_table("Firestore: coalescing, 32 concurrent calls (emulator)", rows)
    finally:
        await on.drop_collection(ours)
        await on.drop_collection(theirs)
        await on.aclose()
        await off.aclose()
        raw.close()  # type: ignore[no-untyped-call]
    return rows


async def main() -> list[Row]:
    with firestore_emulator() as host:
        return await measure_coalescing(host) + await measure(host)


if __name__ == "__main__":
    asyncio.run(main())
