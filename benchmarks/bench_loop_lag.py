"""Event-loop lag: how long the loop stays blocked while a service is created, opened and
does its first save, and under steady load next to the raw client's own.

Run with ``python -m benchmarks.bench_loop_lag [backend ...]`` (memory, sqlite, postgres,
couchdb, dynamodb, firestore; all by default). Servers start through the test harness,
as in the other benchmarks. Each backend is measured in a fresh Python process, so that
what the first use of a provider costs (importing its client library, building its client,
reading its files) is seen as an application sees it after start-up: ``import asyncdb``
has happened, the provider has not been touched yet.

A monitor task sleeps 5 ms at a time and records how late each wake-up is: a stall of the
loop (blocking I/O, a long import, CPU in one callback) shows as lateness. Phases:
``create`` (``Settings()`` and ``create_database_service()`` from the environment, as in an
application's start-up), ``open``, ``first save``, ``first get``. Then 32 concurrent gets
for a few seconds through the service, and the same through the raw client, taking turns.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

BACKENDS = ("memory", "sqlite", "postgres", "couchdb", "dynamodb", "firestore")
TICK = 0.005
CONCURRENCY = 32
LOAD_SECONDS = 3.0
ROUNDS = 2
#: Fresh processes per way of creating the service; the table shows the median of each
#: phase's worst lateness (one process can be descheduled for 30 ms on a busy machine).
REPEATS = 3
IDLE_SECONDS = 1.0
DOCUMENT: dict[str, Any] = {"name": "agent-42", "tags": ["a", "b"], "text": "x" * 900}
COLLECTION = "laglag"

Get = Callable[[str], Awaitable[object]]


class LagMonitor:
    """A task that wakes every ``TICK`` seconds and records how late each wake-up was."""

    def __init__(self) -> None:
        self.late: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> LagMonitor:
        self._task = asyncio.create_task(self._run())
        await asyncio.sleep(0)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _run(self) -> None:
        while True:
            expected = time.perf_counter() + TICK
            await asyncio.sleep(TICK)
            self.late.append(max(0.0, time.perf_counter() - expected))

    async def take(self) -> list[float]:
        """The lateness seen since the last ``take``, after letting the monitor wake once
        more (a stall shows only when the loop gets back to the monitor)."""
        await asyncio.sleep(TICK * 3)
        late, self.late = self.late, []
        return late


def _ms(late: list[float]) -> dict[str, float]:
    if not late:
        return {"worst": 0.0, "p99": 0.0}
    ordered = sorted(late)
    return {
        "worst": ordered[-1] * 1000,
        "p99": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
    }


# -- the child process: one backend, measured cold ---------------------------------------------
async def _child(backend: str, create: str, load: bool) -> dict[str, Any]:
    """Phases from a cold start. ``create`` is ``loop`` (``create_database_service`` called
    on the loop, as the API is used today) or ``thread`` (called in a worker thread, as an
    awaited opener would: the provider's import and the driver's construction off the loop);
    with ``load`` the process goes on to the steady load."""
    from asyncdb import Settings, create_database_service
    from asyncdb._offload import off_loop

    result: dict[str, Any] = {}
    async with LagMonitor() as monitor:
        await monitor.take()
        # The floor: what the machine alone does to an idle loop in this process.
        await asyncio.sleep(IDLE_SECONDS)
        result["idle"] = _ms(await monitor.take())
        started = time.perf_counter()
        if create == "thread":
            service = await off_loop(lambda: create_database_service(Settings()))
        else:
            service = create_database_service(Settings())
        result["create"] = _ms(await monitor.take())
        await service.open()
        result["open"] = _ms(await monitor.take())
        await service.save(COLLECTION, "d0", DOCUMENT)
        result["first save"] = _ms(await monitor.take())
        await service.get(COLLECTION, "d0")
        result["first get"] = _ms(await monitor.take())
        result["cold seconds"] = time.perf_counter() - started
        if create == "loop" and load:
            await _steady(backend, service, monitor, result)
        await service.aclose()
    return result


async def _steady(backend: str, service: Any, monitor: LagMonitor, result: dict[str, Any]) -> None:
    """32 concurrent gets through the service and through the raw client, taking turns."""
    for index in range(1, 64):
        await service.save(COLLECTION, f"d{index}", DOCUMENT)
    async with _raw_client(backend) as raw_get:
        await _load(service_get(service), seconds=0.5)  # warm both sides
        await _load(raw_get, seconds=0.5)
        late: dict[str, list[float]] = {"asyncdb": [], "raw": []}
        calls = {"asyncdb": 0, "raw": 0}
        for round_number in range(ROUNDS):
            sides = [(service_get(service), "asyncdb"), (raw_get, "raw")]
            for get, side in sides if round_number % 2 == 0 else sides[::-1]:
                await monitor.take()
                calls[side] += await _load(get, seconds=LOAD_SECONDS / ROUNDS)
                late[side].extend(await monitor.take())
    for side in ("asyncdb", "raw"):
        result[f"load {side}"] = {**_ms(late[side]), "rate": calls[side] / LOAD_SECONDS}


def service_get(service: Any) -> Get:
    async def get(doc_id: str) -> object:
        return await service.get(COLLECTION, doc_id)

    return get


async def _load(get: Get, *, seconds: float) -> int:
    """``CONCURRENCY`` workers calling ``get`` in turn for ``seconds``; the number of calls."""
    deadline = time.perf_counter() + seconds
    calls = 0

    async def worker(offset: int) -> None:
        nonlocal calls
        index = offset
        while time.perf_counter() < deadline:
            await get(f"d{index % 64}")
            calls += 1
            index += CONCURRENCY
            # A call that never yields (memory) would starve every other task: one yield
            # per call, on both sides, keeps the comparison fair.
            await asyncio.sleep(0)

    await asyncio.gather(*(worker(offset) for offset in range(CONCURRENCY)))
    return calls


@contextlib.asynccontextmanager
async def _raw_client(backend: str) -> AsyncIterator[Get]:
    """The backend's own async client reading the same kind of document by key."""
    body = json.dumps(DOCUMENT)
    if backend == "memory":
        import copy

        store = {f"d{i}": dict(DOCUMENT) for i in range(64)}

        async def get_memory(doc_id: str) -> object:
            return copy.deepcopy(store[doc_id])

        yield get_memory
    elif backend == "sqlite":
        import aiosqlite

        async with aiosqlite.connect(os.environ["SQLITE_PATH"] + ".raw") as connection:
            await connection.execute("CREATE TABLE IF NOT EXISTS raw (id TEXT PRIMARY KEY, b TEXT)")
            for i in range(64):
                await connection.execute(
                    "INSERT OR REPLACE INTO raw VALUES (?, ?)", (f"d{i}", body)
                )
            await connection.commit()

            async def get_sqlite(doc_id: str) -> object:
                rows = await connection.execute_fetchall(
                    "SELECT b FROM raw WHERE id = ?", (doc_id,)
                )
                return json.loads(next(iter(rows))[0])

            yield get_sqlite
    elif backend == "postgres":
        import asyncpg

        async with asyncpg.create_pool(os.environ["POSTGRES_URL"], max_size=10) as pool:
            await pool.execute("CREATE TABLE IF NOT EXISTS raw_lag (id TEXT PRIMARY KEY, b JSONB)")
            await pool.executemany(
                "INSERT INTO raw_lag VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET b = $2",
                [(f"d{i}", body) for i in range(64)],
            )

            async def get_postgres(doc_id: str) -> object:
                return json.loads(await pool.fetchval("SELECT b FROM raw_lag WHERE id=$1", doc_id))

            yield get_postgres
    elif backend == "couchdb":
        import aiohttp

        base = os.environ["COUCHDB_URL"].rstrip("/") + "/rawlag"
        headers = {"Accept": "application/json", "Content-Type": "application/json"}
        async with aiohttp.ClientSession(headers=headers) as session:
            async with session.put(base):
                pass
            for i in range(64):
                async with session.put(f"{base}/d{i}", data=body) as response:
                    await response.read()

            async def get_couchdb(doc_id: str) -> object:
                async with session.get(f"{base}/{doc_id}") as response:
                    return json.loads(await response.read())

            yield get_couchdb
    elif backend == "dynamodb":
        async with _dynamodb_raw(body) as get_dynamodb:
            yield get_dynamodb
    elif backend == "firestore":
        from google.cloud import firestore

        client = firestore.AsyncClient(project=os.environ["GOOGLE_CLOUD_PROJECT"])
        collection = client.collection("rawlag")
        for i in range(64):
            await collection.document(f"d{i}").set(DOCUMENT)

        async def get_firestore(doc_id: str) -> object:
            return (await collection.document(doc_id).get()).to_dict()

        yield get_firestore
        client.close()  # type: ignore[no-untyped-call]
    else:
        raise ValueError(backend)


@contextlib.asynccontextmanager
async def _dynamodb_raw(body: str) -> AsyncIterator[Get]:
    import aioboto3
    from botocore.config import Config

    session = aioboto3.Session(
        aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=os.environ["AWS_SECRET_ACCESS_KEY"],
        region_name=os.environ["DYNAMODB_REGION"],
    )
    config = Config(retries={"total_max_attempts": 1}, max_pool_connections=64)
    endpoint = os.environ["DYNAMODB_ENDPOINT_URL"]
    async with session.client("dynamodb", endpoint_url=endpoint, config=config) as client:
        for i in range(64):
            item = {"_id": {"S": f"raw{i}"}, "b": {"S": body}}
            await client.put_item(TableName=COLLECTION, Item=item)

        async def get_dynamodb(doc_id: str) -> object:
            key = {"_id": {"S": "raw" + doc_id[1:]}}
            reply = await client.get_item(TableName=COLLECTION, Key=key, ConsistentRead=True)
            return json.loads(reply["Item"]["b"]["S"])

        yield get_dynamodb


# -- the parent: servers, one child per backend, the table -------------------------------------
@contextlib.contextmanager
def _environment(backend: str) -> Iterator[dict[str, str]]:
    """The variables a deployment would set for ``backend`` (its server started here)."""
    env = {"DATABASE_PROVIDER": backend}
    if backend == "memory":
        yield env
    elif backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="asyncdb-lag-") as folder:
            yield {**env, "SQLITE_PATH": os.path.join(folder, "lag.sqlite3")}
    elif backend == "postgres":
        from tests.backends.postgres import postgres_server

        with postgres_server() as url:
            yield {**env, "POSTGRES_URL": url}
    elif backend == "couchdb":
        from tests.backends.couchdb import couchdb_server

        with couchdb_server() as url:
            yield {**env, "COUCHDB_URL": url}
    elif backend == "dynamodb":
        from tests.backends.dynamodb import dynamodb_server

        with dynamodb_server() as endpoint:
            kwargs = endpoint.driver_kwargs()
            yield {
                **env,
                "DYNAMODB_ENDPOINT_URL": endpoint.url,
                "DYNAMODB_REGION": kwargs["region"],
                "AWS_ACCESS_KEY_ID": kwargs.get("aws_access_key_id", ""),
                "AWS_SECRET_ACCESS_KEY": kwargs.get("aws_secret_access_key", ""),
            }
    elif backend == "firestore":
        from tests.backends.firestore import TEST_PROJECT, firestore_emulator

        with firestore_emulator() as host:
            # FIRESTORE_EMULATOR_HOST also points the raw client at the emulator.
            yield {**env, "FIRESTORE_EMULATOR_HOST": host, "GOOGLE_CLOUD_PROJECT": TEST_PROJECT}
    else:
        raise ValueError(f"unknown backend {backend!r}; choose from {', '.join(BACKENDS)}")


async def _measure(backend: str) -> dict[str, Any]:
    """Per way of creating: the median over ``REPEATS`` processes of each phase's worst;
    the steady load from the first ``loop`` process."""
    runs: dict[str, list[dict[str, Any]]] = {"loop": [], "thread": []}
    with _environment(backend) as env:
        for repeat in range(REPEATS):
            for create in ("loop", "thread"):
                load = repeat == 0 and create == "loop"
                process = await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    "benchmarks.bench_loop_lag",
                    "--child",
                    backend,
                    create,
                    "load" if load else "cold",
                    env={**os.environ, **env},
                    stdout=asyncio.subprocess.PIPE,
                )
                out, _ = await process.communicate()
                if process.returncode != 0:
                    raise RuntimeError(f"{backend}: the measuring process failed")
                runs[create].append(json.loads(out.decode().strip().splitlines()[-1]))
    found: dict[str, Any] = {}
    for create, results in runs.items():
        found[create] = {
            phase: statistics.median(result[phase]["worst"] for result in results)
            for phase in ("idle", "create", "open", "first save", "first get")
        }
    found["load"] = runs["loop"][0]
    return found


async def main(backends: list[str] | None = None) -> None:
    chosen = backends or list(BACKENDS)
    print(f"\n### Event-loop lag: ms late on a 5 ms tick (median of {REPEATS} processes' worst)\n")
    print(
        "| backend | idle loop | create on the loop | create in a thread | open | first save "
        "| first get | worst, thread-created to first save | load: asyncdb worst / p99 "
        "| load: raw worst / p99 | gets/s asyncdb, raw |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for backend in chosen:
        try:
            found = await _measure(backend)
        except Exception as exc:  # noqa: BLE001 - report it and measure the others
            print(f"| {backend} | failed: {exc} |")
            continue
        loop, thread, load = found["loop"], found["thread"], found["load"]
        cold = [thread[phase] for phase in ("create", "open", "first save")]
        face, raw = load["load asyncdb"], load["load raw"]
        print(
            f"| {backend} | {thread['idle']:.1f} | {loop['create']:.1f} | {cold[0]:.1f} "
            f"| {cold[1]:.1f} | {cold[2]:.1f} | {thread['first get']:.1f} | **{max(cold):.1f}** "
            f"| {face['worst']:.1f} / {face['p99']:.1f} | {raw['worst']:.1f} / {raw['p99']:.1f} "
            f"| {face['rate']:,.0f}, {raw['rate']:,.0f} |"
        )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        found = asyncio.run(_child(sys.argv[2], sys.argv[3], sys.argv[4] == "load"))
        print(json.dumps(found))
    else:
        asyncio.run(main(sys.argv[1:]))
