"""The CouchDB driver through the face against raw aiohttp issuing the same requests.

Both sides talk to the same server (pouchdb-server started here, or the CouchDB named by
``ASYNCDB_TEST_COUCHDB_URL``) over one aiohttp session each, with the same connection
limit and headers. The baseline does the least a correct client must: build the URL,
send the JSON, parse the answer. The difference is asyncdb's cost: validation, the
number encoding, error mapping, copies. Run: ``python -m benchmarks.bench_couchdb``.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import secrets
import statistics
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

import aiohttp

from asyncdb._service import DatabaseService
from asyncdb.drivers.couchdb import CouchDBDriver
from asyncdb.drivers.couchdb._transport import parse_server_url
from benchmarks._harness import Row, ops_per_second, print_table
from benchmarks._harness import paired as measure_pair
from benchmarks.bench_memory import one_kb_document
from tests.backends.couchdb import couchdb_server

COUNT = 300
ROUNDS = 5
CONCURRENCY = 32
BULK = 1_000
POOL = 64
#: (concurrency, asyncdb client CPU µs/op, raw client CPU µs/op), in measuring order.
CPU_ROWS: list[tuple[int, float, float]] = []


class RawCouch:
    """aiohttp alone: the same requests the driver sends for get and a new-id save."""

    def __init__(self, url: str) -> None:
        address = parse_server_url(url, None, None)
        self.base = address.base_url
        headers = {"Accept": "application/json", "Content-Type": "application/json"}
        if address.user is not None:
            token = f"{address.user}:{address.password or ''}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(token).decode()
        self.session = aiohttp.ClientSession(
            headers=headers, connector=aiohttp.TCPConnector(limit=POOL, keepalive_timeout=4.0)
        )

    async def request(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        async with self.session.request(method, self.base + path, data=data) as response:
            return json.loads(await response.read())

    async def get(self, db: str, doc_id: str) -> Any:
        return await self.request("GET", f"/{db}/{quote(doc_id, safe='')}")

    async def save(self, db: str, doc_id: str, doc: dict[str, Any]) -> Any:
        return await self.request("PUT", f"/{db}/{quote(doc_id, safe='')}", doc)

    async def bulk(self, db: str, docs: list[dict[str, Any]]) -> Any:
        return await self.request("POST", f"/{db}/_bulk_docs", {"docs": docs})


async def paired(
    face: Callable[[int], Awaitable[object]],
    raw: Callable[[int], Awaitable[object]],
    concurrency: int,
    count: int = COUNT,
) -> tuple[float, float]:
    """The harness's alternating rounds; the CPU per call is kept for the CPU table."""
    pair = await measure_pair(face, raw, concurrency=concurrency, count=count, rounds=ROUNDS)
    CPU_ROWS.append((concurrency, pair.cpu_us, pair.baseline_cpu_us))
    return pair.rate, pair.baseline_rate


async def measure(url: str) -> list[Row]:
    prefix = f"bench{secrets.token_hex(3)}_"
    db = DatabaseService(CouchDBDriver(url, pool_size=POOL))
    raw = RawCouch(url)
    face_db, raw_db = f"{prefix}face", f"{prefix}raw"
    doc = one_kb_document(1)
    size = len(json.dumps(doc))
    ids = itertools.count()
    try:
        await raw.request("PUT", f"/{raw_db}")
        for index in range(COUNT):
            await db.save(face_db, f"id{index}", doc)
            await raw.save(raw_db, f"id{index}", doc)
        rows = []
        for concurrency in (1, CONCURRENCY):
            label = "sequential" if concurrency == 1 else f"{concurrency} at once"
            get, base_get = await paired(
                lambda i: db.get(face_db, f"id{i}"),
                lambda i: raw.get(raw_db, f"id{i}"),
                concurrency,
            )
            rows.append(Row(f"get {size} B, {label}", get, "raw aiohttp GET", base_get))
            save, base_save = await paired(
                lambda _: db.save(face_db, f"n{next(ids)}", doc),
                lambda _: raw.save(raw_db, f"n{next(ids)}", doc),
                concurrency,
            )
            rows.append(Row(f"save new id, {label}", save, "raw aiohttp PUT", base_save))
        print_table("CouchDB driver through the face vs raw aiohttp (same requests)", rows)
        # Client CPU per operation does not depend on the server's speed or on other load
        # on the machine as much as throughput does: the most stable measure of overhead.
        print("\n### client CPU per operation (this process only)\n")
        print("| operation | asyncdb µs/op | raw aiohttp µs/op |")
        print("|---|---:|---:|")
        names = ["get, sequential", "save, sequential", "get, 32 at once", "save, 32 at once"]
        for name, (_, face_cpu, raw_cpu) in zip(names, CPU_ROWS, strict=True):
            print(f"| {name} | {face_cpu:,.0f} | {raw_cpu:,.0f} |")

        def batch() -> list[dict[str, Any]]:
            start = next(ids) * BULK
            return [{"_id": f"b{start + n}", **doc} for n in range(BULK)]

        bulk_rates, base_bulk_rates = [], []
        for _ in range(ROUNDS):
            bulk_rates.append(await ops_per_second(lambda _: db.save_many(face_db, batch()), 1))
            base_bulk_rates.append(await ops_per_second(lambda _: raw.bulk(raw_db, batch()), 1))
        bulk, base_bulk = statistics.median(bulk_rates), statistics.median(base_bulk_rates)
        singles = await ops_per_second(
            lambda _: db.save(face_db, f"s{next(ids)}", doc), BULK, repeats=1
        )
        bulk_rows = [
            Row(f"save_many {BULK} docs, docs/s", bulk * BULK, "raw _bulk_docs", base_bulk * BULK),
            Row(f"save_many {BULK} docs, docs/s", bulk * BULK, f"{BULK} single saves", singles),
        ]
        print_table("bulk writes", bulk_rows)
        return rows + bulk_rows
    finally:
        await db.drop_collection(face_db)
        await raw.request("DELETE", f"/{raw_db}")
        await raw.session.close()
        await db.aclose()


BURST = 32
BURSTS = 30


def burst(call: Callable[[int], Awaitable[object]]) -> Callable[[int], Awaitable[None]]:
    """One operation of the coalescing rows: ``BURST`` calls started at once by one
    gather, the way 32 concurrent requests of an application reach one service."""

    async def run(index: int) -> None:
        await asyncio.gather(*(call(index * BURST + n) for n in range(BURST)))

    return run


async def coalescing_rows(
    what: str,
    on: Callable[[int], Awaitable[object]],
    off: Callable[[int], Awaitable[object]],
    raw: Callable[[int], Awaitable[object]],
    raw_name: str,
    *,
    rounds: int = ROUNDS,
    bursts: int = BURSTS,
) -> list[Row]:
    """asyncdb with coalescing on (``on``) and off (``off``) against the raw client
    issuing the same ``BURST`` calls as single requests: ``rounds`` rounds of ``bursts``
    bursts of each of the three, who goes first rotating every round (load drifts on a
    busy machine; taking turns exposes all three to it alike), after one unmeasured
    burst each. Medians, in calls per second; both ratios share the raw measurements."""
    sides = [burst(on), burst(off), burst(raw)]
    for side in sides:
        await side(0)
    rates: list[list[float]] = [[], [], []]
    for round_number in range(rounds):
        for offset in range(3):
            index = (round_number + offset) % 3
            rate = await ops_per_second(sides[index], bursts, repeats=1)
            rates[index].append(rate * BURST)
        await asyncio.sleep(0)
    on_rate, off_rate, raw_rate = (statistics.median(r) for r in rates)
    return [
        Row(
            f"{what}, {BURST} at once, coalesced", on_rate, f"{raw_name}, {BURST} at once", raw_rate
        ),
        Row(
            f"{what}, {BURST} at once, DATABASE_COALESCE=false",
            off_rate,
            f"{raw_name}, {BURST} at once",
            raw_rate,
        ),
    ]


async def measure_coalescing(url: str) -> list[Row]:
    """32 concurrent gets and 32 concurrent saves of new ids: asyncdb (coalescing on, and
    off) against raw aiohttp sending each as its own request, on the same server."""
    prefix = f"bench{secrets.token_hex(3)}_"
    on = DatabaseService(CouchDBDriver(url, pool_size=POOL))
    off = DatabaseService(CouchDBDriver(url, pool_size=POOL), coalesce=False)
    raw = RawCouch(url)
    face_db, raw_db = f"{prefix}face", f"{prefix}raw"
    doc = one_kb_document(1)
    ids = itertools.count()
    try:
        await raw.request("PUT", f"/{raw_db}")
        assert (await on.save_many(face_db, [{"_id": f"id{i}", **doc} for i in range(COUNT)])).ok
        await raw.bulk(raw_db, [{"_id": f"id{i}", **doc} for i in range(COUNT)])
        rows = await coalescing_rows(
            "get",
            lambda i: on.get(face_db, f"id{i % COUNT}"),
            lambda i: off.get(face_db, f"id{i % COUNT}"),
            lambda i: raw.get(raw_db, f"id{i % COUNT}"),
            "raw aiohttp GET",
        )
        rows += await coalescing_rows(
            "save new id",
            lambda _: on.save(face_db, f"c{next(ids)}", doc),
            lambda _: off.save(face_db, f"c{next(ids)}", doc),
            lambda _: raw.save(raw_db, f"c{next(ids)}", doc),
            "raw aiohttp PUT",
        )
        print_table("coalescing: 32 concurrent calls vs raw aiohttp single requests", rows)
        return rows
    finally:
        await on.drop_collection(face_db)
        await raw.request("DELETE", f"/{raw_db}")
        await raw.session.close()
        await on.aclose()
        await off.aclose()


FIND_DOCS = 5_000
FIND_USERS = 100


async def measure_find(url: str) -> list[Row]:
    """``find`` of one user's documents (1 in 100) with the index ``ensure_index`` made,
    against the same query on an identical collection without it (``_all_docs`` filtered)."""
    prefix = f"bench{secrets.token_hex(3)}_"
    db = DatabaseService(CouchDBDriver(url, pool_size=POOL))
    indexed, plain = f"{prefix}indexed", f"{prefix}plain"
    docs = [
        {"_id": f"d{n:05}", "user": f"u{n % FIND_USERS}", "n": n, "text": "x" * 200}
        for n in range(FIND_DOCS)
    ]
    try:
        await db.ensure_index(indexed, ["user"])
        for collection in (indexed, plain):
            assert (await db.save_many(collection, docs)).ok
        users = itertools.cycle(range(FIND_USERS))
        with_index, without = await paired(
            lambda _: db.find(indexed, {"user": f"u{next(users)}"}),
            lambda _: db.find(plain, {"user": f"u{next(users)}"}),
            1,
            count=20,
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
        await db.drop_collection(indexed)
        await db.drop_collection(plain)
        await db.aclose()


CONDITIONAL = 200


async def measure_conditional(url: str) -> list[Row]:
    """A conditional save with a revision this driver has seen (one PUT) against one with
    a revision another process wrote (the id is checked first, against CouchDB 3.x's
    phantom documents: a read, then the PUT)."""
    collection = f"bench{secrets.token_hex(3)}_cond"
    writer = DatabaseService(CouchDBDriver(url, pool_size=POOL))
    doc = one_kb_document(1)
    try:
        saved = [await writer.save(collection, f"c{n}", doc) for n in range(CONDITIONAL)]
        fresh = DatabaseService(CouchDBDriver(url, pool_size=POOL))
        try:
            latest: list[dict[str, Any]] = []

            async def unseen(n: int) -> None:
                latest.append(await fresh.save(collection, f"c{n}", saved[n]))

            async def seen(n: int) -> None:
                await fresh.save(collection, f"c{n}", latest[n])

            first = await ops_per_second(unseen, CONDITIONAL, repeats=1)
            again = await ops_per_second(seen, CONDITIONAL, repeats=1)
        finally:
            await fresh.aclose()
        rows = [
            Row(
                "conditional save, revision from another process",
                first,
                "revision this driver has seen",
                again,
            )
        ]
        print_table("conditional saves: the phantom check costs one read, once per id", rows)
        return rows
    finally:
        await writer.drop_collection(collection)
        await writer.aclose()


async def main() -> list[Row]:
    with couchdb_server() as url:
        return (
            await measure_coalescing(url)
            + await measure(url)
            + await measure_find(url)
            + await measure_conditional(url)
        )


if __name__ == "__main__":
    asyncio.run(main())
