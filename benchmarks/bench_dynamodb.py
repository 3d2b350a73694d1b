"""DynamoDB: asyncdb through the face against raw aioboto3 doing the same calls.

Run with ``python -m benchmarks.bench_dynamodb``. It starts dynalite (or uses the endpoint
in ``ASYNCDB_TEST_DYNAMODB_URL``) and compares, on the same server and document:
- save / get one at a time and 32 at once (face + driver vs ``put_item`` / ``get_item`` with
  a ready-made low-level item: the floor an application calling aioboto3 directly pays);
- ``save_many`` of 1,000 documents vs raw BatchWriteItem calls of 25, and vs 1,000 single
  saves through the face.
Only the ratios mean something: both sides share the machine, the server and the client.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
import timeit
from collections.abc import Awaitable, Callable
from typing import Any

import aioboto3
from botocore.config import Config

from asyncdb._service import DatabaseService
from asyncdb.drivers.dynamodb import DynamoDBDriver
from asyncdb.drivers.dynamodb._codec import encode_body
from asyncdb.drivers.dynamodb._items import build_item, record
from asyncdb.middleware.prefix import PrefixMiddleware
from benchmarks._harness import Row, ops_per_second, print_table
from benchmarks.bench_couchdb import coalescing_rows
from tests.backends.dynamodb import DynamoDBEndpoint, dynamodb_server

DOCUMENT: dict[str, Any] = {
    "name": "agent-42",
    "userId": "u-123456",
    "namespace": "default",
    "count": 17,
    "score": 0.75,
    "active": True,
    "tags": ["alpha", "beta", "gamma"],
    "config": {"model": "m-1", "temperature": 0.2, "limit": 1024, "extra": {"a": [1, 2, 3]}},
    "description": "x" * 400,
}
SINGLE_COUNT = 200
CONCURRENT_COUNT = 800
BULK_DOCS = 1000
ROUNDS = 5


def _raw_item(doc_id: str) -> dict[str, Any]:
    item = encode_body(DOCUMENT)
    item["_id"] = {"S": doc_id}
    item["_rev"] = {"S": secrets.token_urlsafe(12)}
    return item


async def _bench(endpoint: DynamoDBEndpoint) -> None:
    kwargs = endpoint.driver_kwargs()
    prefix = f"bench{secrets.token_hex(3)}_"
    table = prefix + "docs"
    driver = DynamoDBDriver(**kwargs)  # type: ignore[arg-type]
    session = aioboto3.Session(
        aws_access_key_id=kwargs.get("aws_access_key_id"),
        aws_secret_access_key=kwargs.get("aws_secret_access_key"),
        region_name=kwargs["region"],
    )
    config = Config(retries={"total_max_attempts": 1}, max_pool_connections=64)
    async with (
        DatabaseService(PrefixMiddleware(driver, prefix)) as db,
        session.client("dynamodb", endpoint_url=endpoint.url, config=config) as raw,
    ):
        await db.save("docs", "warm", DOCUMENT)  # creates the table
        await raw.put_item(TableName=table, Item=_raw_item("raw-warm"))
        item = _raw_item("raw")

        async def face_save(i: int) -> None:
            await db.save("docs", f"d{i % 500}", DOCUMENT)

        async def raw_put(i: int) -> None:
            await raw.put_item(TableName=table, Item={**item, "_id": {"S": f"r{i % 500}"}})

        await asyncio.gather(*(face_save(i) for i in range(500)))
        await asyncio.gather(*(raw_put(i) for i in range(500)))

        async def face_get(i: int) -> None:
            await db.get("docs", f"d{i % 500}")

        async def raw_get(i: int) -> None:
            await raw.get_item(
                TableName=table, Key={"_id": {"S": f"r{i % 500}"}}, ConsistentRead=True
            )

        rows = []
        for label, face_op, raw_op, raw_name in (
            ("save", face_save, raw_put, "aioboto3 put_item"),
            ("get", face_get, raw_get, "aioboto3 get_item"),
        ):
            for concurrency, count in ((1, SINGLE_COUNT), (32, CONCURRENT_COUNT)):
                raw_rate, face_rate = await _alternating(raw_op, face_op, count, concurrency)
                rows.append(
                    Row(
                        f"{label}, {concurrency} at once",
                        face_rate,
                        f"{raw_name}, {concurrency} at once",
                        raw_rate,
                    )
                )
        print_table(f"DynamoDB ({endpoint.kind}): single operations, ops/s", rows)
        # Client CPU per call: the overhead asyncdb adds, independent of other load.
        print("\n| client CPU per call | asyncdb µs | aioboto3 µs |\n|---|---:|---:|")
        for label, face_op, raw_op in (("save", face_save, raw_put), ("get", face_get, raw_get)):
            face_cpu, raw_cpu = await _cpu_per_call(face_op), await _cpu_per_call(raw_op)
            print(f"| {label} | {face_cpu:,.0f} | {raw_cpu:,.0f} |")

        docs = [{"_id": f"b{i}", **DOCUMENT} for i in range(BULK_DOCS)]

        async def face_bulk(_: int) -> None:
            result = await db.save_many("docs", docs)
            result.raise_for_errors()

        async def raw_bulk(_: int) -> None:
            items = [{"PutRequest": {"Item": _raw_item(f"rb{i}")}} for i in range(BULK_DOCS)]
            chunks = [items[i : i + 25] for i in range(0, len(items), 25)]
            semaphore = asyncio.Semaphore(8)

            async def one(chunk: list[dict[str, Any]]) -> None:
                async with semaphore:
                    pending = chunk
                    while pending:
                        answer = await raw.batch_write_item(RequestItems={table: pending})
                        pending = answer.get("UnprocessedItems", {}).get(table, [])

            await asyncio.gather(*(one(chunk) for chunk in chunks))

        async def face_singles(_: int) -> None:
            semaphore = asyncio.Semaphore(32)

            async def one(doc: dict[str, Any]) -> None:
                async with semaphore:
                    await db.save("docs", doc["_id"], doc)

            await asyncio.gather(*(one(doc) for doc in docs))

        raw_batch, bulk = await _alternating(raw_bulk, face_bulk, 1, 1)
        singles, bulk_again = await _alternating(face_singles, face_bulk, 1, 1)
        bulk, raw_batch, singles = (
            max(bulk, bulk_again) * BULK_DOCS,
            raw_batch * BULK_DOCS,
            (singles * BULK_DOCS),
        )
        print_table(
            f"DynamoDB ({endpoint.kind}): {BULK_DOCS:,} documents, docs/s",
            [
                Row("save_many", bulk, "aioboto3 batch_write_item (25s, 8 at once)", raw_batch),
                Row("save_many", bulk, "1,000 single saves (32 at once)", singles),
            ],
        )
        with contextlib.suppress(Exception):
            await db.drop_collection("docs")


async def _coalescing(endpoint: DynamoDBEndpoint) -> None:
    """32 concurrent gets and 32 concurrent saves: asyncdb (coalescing on, and off)
    against raw aioboto3 making each call on its own (get_item / put_item)."""
    kwargs = endpoint.driver_kwargs()
    prefix = f"bench{secrets.token_hex(3)}_"
    table = prefix + "docs"
    session = aioboto3.Session(
        aws_access_key_id=kwargs.get("aws_access_key_id"),
        aws_secret_access_key=kwargs.get("aws_secret_access_key"),
        region_name=kwargs["region"],
    )
    config = Config(retries={"total_max_attempts": 1}, max_pool_connections=64)
    on_driver = DynamoDBDriver(**kwargs)  # type: ignore[arg-type]
    off_driver = DynamoDBDriver(**kwargs)  # type: ignore[arg-type]
    async with (
        DatabaseService(PrefixMiddleware(on_driver, prefix)) as on,
        DatabaseService(PrefixMiddleware(off_driver, prefix), coalesce=False) as off,
        session.client("dynamodb", endpoint_url=endpoint.url, config=config) as raw,
    ):
        result = await on.save_many("docs", [{"_id": f"d{i}", **DOCUMENT} for i in range(500)])
        result.raise_for_errors()
        await off.get("docs", "d0")
        item = _raw_item("raw")
        for start in range(0, 500, 25):
            chunk = [
                {"PutRequest": {"Item": {**item, "_id": {"S": f"r{i}"}}}}
                for i in range(start, start + 25)
            ]
            await raw.batch_write_item(RequestItems={table: chunk})

        async def raw_get(i: int) -> None:
            await raw.get_item(
                TableName=table, Key={"_id": {"S": f"r{i % 500}"}}, ConsistentRead=True
            )

        async def raw_put(i: int) -> None:
            await raw.put_item(TableName=table, Item={**item, "_id": {"S": f"r{i % 500}"}})

        rows = await coalescing_rows(
            "get",
            lambda i: on.get("docs", f"d{i % 500}"),
            lambda i: off.get("docs", f"d{i % 500}"),
            raw_get,
            "aioboto3 get_item",
        )
        rows += await coalescing_rows(
            "save",
            lambda i: on.save("docs", f"d{i % 500}", DOCUMENT),
            lambda i: off.save("docs", f"d{i % 500}", DOCUMENT),
            raw_put,
            "aioboto3 put_item",
        )
        print_table(f"DynamoDB ({endpoint.kind}): coalescing, 32 concurrent calls", rows)
        with contextlib.suppress(Exception):
            await on.drop_collection("docs")


async def _alternating(
    baseline: Callable[[int], Awaitable[object]],
    candidate: Callable[[int], Awaitable[object]],
    count: int,
    concurrency: int,
) -> tuple[float, float]:
    """Best rate of each side over ROUNDS alternating rounds: other load on the machine
    then hits both sides alike instead of whichever happened to run during it."""
    baseline_rates, candidate_rates = [], []
    for _ in range(ROUNDS):
        baseline_rates.append(
            await ops_per_second(baseline, count, concurrency=concurrency, repeats=1)
        )
        candidate_rates.append(
            await ops_per_second(candidate, count, concurrency=concurrency, repeats=1)
        )
    return max(baseline_rates), max(candidate_rates)


async def _cpu_per_call(operation: Callable[[int], Awaitable[object]], count: int = 300) -> float:
    """Microseconds of this process's CPU per sequential call (the server runs elsewhere)."""
    started = time.process_time()
    for index in range(count):
        await operation(index)
    return (time.process_time() - started) / count * 1e6


def _codec_table() -> None:
    """Client CPU of the item codec: a document without integral floats, and one with some
    (those also build and check the float marker's fingerprint)."""
    with_floats = {**DOCUMENT, "prices": [1.0, 2.0, 3.5, 4], "config": {"limit": 1024.0}}
    print("\n| item codec, per document | build µs | read µs |\n|---|---:|---:|")
    for label, doc in (("no integral floats", DOCUMENT), ("with integral floats", with_floats)):
        item = build_item("d1", doc, "r" * 16)
        build = timeit.timeit(lambda doc=doc: build_item("d1", doc, "r" * 16), number=2000)
        read = timeit.timeit(lambda item=item: record(item), number=2000)
        print(f"| {label} | {build / 2000 * 1e6:,.0f} | {read / 2000 * 1e6:,.0f} |")


async def main() -> None:
    """Every table (``benchmarks.run`` awaits the ``main()`` of each benchmark)."""
    started = time.perf_counter()
    _codec_table()
    with dynamodb_server("dynalite") as endpoint:
        await _coalescing(endpoint)
        await _bench(endpoint)
    print(f"\n(total {time.perf_counter() - started:.0f}s)")


if __name__ == "__main__":
    asyncio.run(main())
