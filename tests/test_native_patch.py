"""``patch`` where the driver patches natively (``Driver.patch``): memory, SQLite and
PostgreSQL. Each test runs on the three, through a ``CallRecorder``, so that it shows the
patch reached the driver as one ``patch`` call (no ``get``, no ``put``: no revision loop
and no retried race) as well as what it did. The portable behaviour of ``patch`` is the
conformance suite's (``asyncdb/testing/_suite/patch.py``); the revision loop is in
tests/test_patch.py; the drivers' faults in tests/sqlite/ and tests/postgres/."""

from __future__ import annotations

import secrets
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import anyio
import asyncpg
import httpx
import pytest

from asyncdb import DatabaseService, SyncDatabaseService
from asyncdb.drivers.base import Driver, DriverLimits
from asyncdb.drivers.memory import MemoryDriver
from asyncdb.drivers.postgres import PostgresDriver
from asyncdb.drivers.sqlite import SQLiteDriver
from asyncdb.errors import (
    ConflictError,
    DocumentTooLargeError,
    InvalidDocumentError,
    NotFoundError,
    ReadOnlyError,
)
from asyncdb.middleware import ReadOnlyMiddleware, StatisticsMiddleware
from asyncdb.testing import CallRecorder

ITEMS = "items"
WRITERS = 30

#: Builds a fresh driver over the test's one store (each call: another connection).
MakeDriver = Callable[[], Driver]


@pytest.fixture(params=["memory", "sqlite", "postgres"])
async def make_driver(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[MakeDriver]:
    backend: str = request.param
    if backend == "memory":
        store = MemoryDriver()
        yield lambda: store
        return
    if backend == "sqlite":
        path = str(tmp_path / "native-patch.sqlite3")
        yield lambda: SQLiteDriver(path)
        return
    url: str = request.getfixturevalue("postgres_url")
    table = f"t_{secrets.token_hex(6)}"
    yield lambda: PostgresDriver(url, table=table)
    connection = await asyncpg.connect(url)
    await connection.execute(f'DROP TABLE IF EXISTS "{table}"')
    await connection.close()


@pytest.fixture
async def recorder(make_driver: MakeDriver) -> AsyncIterator[CallRecorder]:
    recorder = CallRecorder(make_driver())
    yield recorder
    if not isinstance(recorder.inner, MemoryDriver):
        await recorder.aclose()


@pytest.fixture
async def db(recorder: CallRecorder) -> AsyncIterator[DatabaseService]:
    async with DatabaseService(recorder, close_driver=False) as service:
        yield service


def operations(recorder: CallRecorder) -> list[str]:
    return [operation for operation, _ in recorder.calls]


async def test_concurrent_increments_are_one_native_patch_each(
    db: DatabaseService, recorder: CallRecorder
) -> None:
    await db.save(ITEMS, "c", {"n": 0, "total": 0.0})
    recorder.calls.clear()

    async def writer(index: int) -> None:
        # attempts=1: a single lost race would be a ConflictError here.
        await db.patch(
            ITEMS, "c", increment={"n": 1, "total": 0.5}, set={f"by.w{index}": index}, attempts=1
        )

    async with anyio.create_task_group() as group:
        for index in range(WRITERS):
            group.start_soon(writer, index)
    assert operations(recorder) == ["patch"] * WRITERS  # no get, no put: nothing retried
    final = await db.get(ITEMS, "c")
    assert final["n"] == WRITERS and type(final["n"]) is int
    assert final["total"] == WRITERS * 0.5 and type(final["total"]) is float
    assert final["by"] == {f"w{index}": index for index in range(WRITERS)}
    assert final["_rev"].split("-")[0] == str(WRITERS + 1)  # one generation per patch


async def test_two_services_on_one_store_lose_no_increment(make_driver: MakeDriver) -> None:
    # Two connections (two files handles, two pools): the atomicity is the backend's,
    # not one service's.
    first, second = CallRecorder(make_driver()), CallRecorder(make_driver())
    async with (
        DatabaseService(first, close_driver=first.inner is not second.inner) as one,
        DatabaseService(second, close_driver=first.inner is not second.inner) as two,
    ):
        await one.save(ITEMS, "c", {"n": 0})
        async with anyio.create_task_group() as group:
            for index in range(WRITERS):
                service = one if index % 2 else two
                group.start_soon(lambda s=service: s.patch(ITEMS, "c", increment={"n": 1}))
        assert (await one.get(ITEMS, "c"))["n"] == WRITERS
    assert operations(first).count("put") == 1  # the save; every patch was native
    assert "put" not in operations(second) and "get" not in operations(second)


async def test_the_patched_document_is_returned_and_stored_with_a_revision_put_would_make(
    db: DatabaseService,
) -> None:
    before = await db.save(ITEMS, "p", {"i": 1, "f": 1.0, "keep": {"a": [1, 2]}})
    after = await db.patch(ITEMS, "p", increment={"i": 2, "f": 1}, set={"keep.b": True})
    assert after == await db.get(ITEMS, "p")
    assert (after["i"], type(after["i"]), after["f"], type(after["f"])) == (3, int, 2.0, float)
    assert after["keep"] == {"a": [1, 2], "b": True}
    assert int(after["_rev"].split("-")[0]) == int(before["_rev"].split("-")[0]) + 1
    # The new revision is a real one: a conditional write over it succeeds, over the old
    # one it conflicts.
    with pytest.raises(ConflictError):
        await db.save(ITEMS, "p", {"x": 1, "_rev": before["_rev"]})
    saved = await db.save(ITEMS, "p", {"x": 1, "_rev": after["_rev"]})
    assert await db.patch(ITEMS, "p", increment={"x": 1}, rev=saved["_rev"])


async def test_an_increment_beyond_64_bits_writes_nothing(
    db: DatabaseService, recorder: CallRecorder
) -> None:
    before = await db.save(ITEMS, "p", {"n": 2**63 - 1, "m": -(2**63)})
    recorder.calls.clear()
    with pytest.raises(InvalidDocumentError, match="64"):
        await db.patch(ITEMS, "p", increment={"n": 1})
    with pytest.raises(InvalidDocumentError, match="64"):
        await db.patch(ITEMS, "p", increment={"m": -1})
    assert operations(recorder) == ["patch", "patch"]  # refused inside the driver's patch
    assert await db.get(ITEMS, "p") == before


async def test_an_oversized_result_writes_nothing(
    db: DatabaseService, recorder: CallRecorder
) -> None:
    before = await db.save(ITEMS, "p", {"text": "x" * 300_000})
    recorder.calls.clear()
    with pytest.raises(DocumentTooLargeError):
        await db.patch(ITEMS, "p", set={"more": "y" * 150_000})
    assert operations(recorder) == ["patch"]
    assert await db.get(ITEMS, "p") == before


async def test_the_native_size_limit_applies_to_the_patched_document(
    make_driver: MakeDriver,
) -> None:
    recorder = CallRecorder(make_driver())
    recorder.limits = DriverLimits(native_document_bytes=2_000)  # this wrapper's own limit
    async with DatabaseService(recorder, size_limit="native") as db:
        before = await db.save(ITEMS, "p", {"text": "x" * 1_000})
        recorder.calls.clear()
        with pytest.raises(DocumentTooLargeError, match="DATABASE_SIZE_LIMIT=native"):
            await db.patch(ITEMS, "p", set={"more": "y" * 1_000})
        assert operations(recorder) == ["patch"]
        assert await db.get(ITEMS, "p") == before
        assert (await db.patch(ITEMS, "p", set={"more": "y"}))["more"] == "y"


async def test_a_stale_revision_is_a_conflict_and_writes_nothing(db: DatabaseService) -> None:
    first = await db.save(ITEMS, "p", {"n": 1})
    second = await db.patch(ITEMS, "p", increment={"n": 1}, rev=first["_rev"])
    with pytest.raises(ConflictError) as caught:
        await db.patch(ITEMS, "p", increment={"n": 1}, rev=first["_rev"])
    assert caught.value.status_code == 409
    assert await db.get(ITEMS, "p") == second


async def test_a_missing_document_is_not_found(db: DatabaseService, recorder: CallRecorder) -> None:
    for collection in ("never-written", ITEMS):  # a missing collection (table) as well
        with pytest.raises(NotFoundError) as caught:
            await db.patch(collection, "missing", increment={"n": 1})
        assert caught.value.status_code == 404
        with pytest.raises(NotFoundError):
            await db.patch(collection, "missing", set={"a": 1}, rev="1-abc")
        await db.save(ITEMS, "other", {"a": 1})
    gone = await db.save(ITEMS, "gone", {"a": 1})
    await db.delete(ITEMS, "gone")
    with pytest.raises(NotFoundError):
        await db.patch(ITEMS, "gone", set={"a": 2}, rev=gone["_rev"])
    assert await db.get_many(ITEMS, ["missing", "gone"]) == {"missing": None, "gone": None}
    assert "put" not in operations(recorder)[-3:]


def test_the_blocking_facade_patches_natively(make_driver: MakeDriver) -> None:
    # The facade runs its own loop, which owns the driver's connections: its service
    # closes the driver.
    recorder = CallRecorder(make_driver())
    with SyncDatabaseService(DatabaseService(recorder)) as db:
        db.save(ITEMS, "p", {"a": {"b": 1}, "n": 1})
        recorder.calls.clear()
        patched = db.patch(ITEMS, "p", set={"a.c": 2}, unset=["a.b"], increment={"n": 1})
        assert (patched["a"], patched["n"]) == ({"c": 2}, 2)
        assert db.get(ITEMS, "p") == patched
    assert operations(recorder) == ["patch", "get"]


def test_a_memory_store_shared_with_threads_loses_no_increment() -> None:
    # The memory driver's lock is a thread lock: services on other threads' loops share it.
    store = MemoryDriver()
    with SyncDatabaseService(DatabaseService(store, close_driver=False)) as db:
        db.save(ITEMS, "c", {"n": 0})

        def writer() -> None:
            with SyncDatabaseService(DatabaseService(store, close_driver=False)) as mine:
                for _ in range(10):
                    mine.patch(ITEMS, "c", increment={"n": 1}, attempts=1)

        threads = [threading.Thread(target=writer) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert db.get(ITEMS, "c")["n"] == 40


async def test_read_only_middleware_refuses_a_patch() -> None:
    store = MemoryDriver()
    async with DatabaseService(store, close_driver=False) as writable:
        before = await writable.save(ITEMS, "p", {"n": 1})
    async with DatabaseService(ReadOnlyMiddleware(store)) as db:
        with pytest.raises(ReadOnlyError):
            await db.patch(ITEMS, "p", increment={"n": 1})
        assert await db.get(ITEMS, "p") == before


async def test_statistics_count_a_patch_as_one_call() -> None:
    stats = StatisticsMiddleware(MemoryDriver(), meter=None)
    async with DatabaseService(stats) as db:
        await db.save(ITEMS, "p", {"n": 1})
        await db.patch(ITEMS, "p", increment={"n": 1})
    figures = {
        (f["operation"], f["collection"]): f["count"]
        for f in stats.snapshot()
        if f["collection"] is not None
    }
    assert figures == {("put", ITEMS): 1, ("patch", ITEMS): 1}


async def test_a_rest_patch_is_native_and_validated_by_its_model_inside() -> None:
    # The server's schema check runs inside the driver's patch (``finish``): a patched
    # document the model refuses is 422 with nothing written; a good one is one call.
    from asyncdb.schemas import SCHEMA_MODELS
    from asyncdb.server import ServerConfig, create_app

    recorder = CallRecorder(MemoryDriver())
    app = create_app(service=DatabaseService(recorder), config=ServerConfig(schemas=SCHEMA_MODELS))
    merge = {"Content-Type": "application/merge-patch+json"}
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as http,
    ):
        created = (await http.put("/v1/agents/a-1", json={"name": "n"})).json()
        recorder.calls.clear()
        bad = await http.patch("/v1/agents/a-1", content='{"name": null}', headers=merge)
        assert bad.status_code == 422
        good = await http.patch("/v1/agents/a-1", content='{"name": "m"}', headers=merge)
        assert good.status_code == 200 and good.json()["name"] == "m"
        assert operations(recorder) == ["patch", "patch"]
        assert good.json()["created_at"] == created["created_at"]
        assert good.headers["ETag"] == f'"{good.json()["_rev"]}"'
        assert (await http.get("/v1/agents/a-1")).json() == good.json()
