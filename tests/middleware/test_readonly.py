"""``ReadOnlyMiddleware``: every write refused before any I/O, reads unchanged."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from asyncdb import DatabaseService
from asyncdb.drivers.memory import MemoryDriver
from asyncdb.errors import AsyncDBError
from asyncdb.middleware import ReadOnlyError, ReadOnlyMiddleware
from asyncdb.middleware.readonly import READ_OPERATIONS
from tests.middleware._fakes import Echo, arguments_for, io_methods

ITEMS = "items"

WRITES = sorted(set(io_methods()) - READ_OPERATIONS)


def test_every_read_named_is_a_driver_operation_and_the_writes_are_found() -> None:
    assert set(io_methods()) >= READ_OPERATIONS  # no misspelt read lets a write through
    assert {"put", "delete", "put_many", "delete_many", "drop_collection"} <= set(WRITES)
    assert "ensure_index" in WRITES  # it creates an index on the backend


@pytest.mark.parametrize("operation", WRITES)
async def test_each_write_operation_is_refused_before_the_driver(operation: str) -> None:
    inner = Echo()
    args, kwargs = arguments_for(operation)
    with pytest.raises(ReadOnlyError) as refused:
        await getattr(ReadOnlyMiddleware(inner.as_driver()), operation)(*args, **kwargs)
    assert inner.seen == []
    assert refused.value.operation == operation
    assert isinstance(refused.value, AsyncDBError) and refused.value.status_code == 403


@pytest.mark.parametrize("operation", sorted(READ_OPERATIONS))
async def test_each_read_operation_reaches_the_driver(operation: str) -> None:
    inner = Echo()
    args, kwargs = arguments_for(operation)
    await getattr(ReadOnlyMiddleware(inner.as_driver()), operation)(*args, **kwargs)
    assert inner.seen == [(operation, args, kwargs)]


async def _stored(memory: MemoryDriver) -> dict[str, Any]:
    page = await memory.scan(ITEMS, after=None, limit=100)
    return {record.id: (record.rev, record.body) for record in page.records}


FaceWrite = Callable[[DatabaseService, str], Awaitable[Any]]

FACE_WRITES: list[tuple[str, FaceWrite]] = [
    ("save", lambda db, rev: db.save(ITEMS, "a", {"n": 2})),
    ("save with _rev", lambda db, rev: db.save(ITEMS, "a", {"n": 2, "_rev": rev})),
    ("create", lambda db, rev: db.create(ITEMS, "new", {"n": 1})),
    ("update", lambda db, rev: db.update(ITEMS, "a", lambda doc: {**doc, "n": 3})),
    ("delete", lambda db, rev: db.delete(ITEMS, "a")),
    ("delete with rev", lambda db, rev: db.delete(ITEMS, "a", rev=rev)),
    ("save_many", lambda db, rev: db.save_many(ITEMS, [{"_id": "a"}, {"_id": "b"}])),
    ("delete_many", lambda db, rev: db.delete_many(ITEMS, ["a"])),
    ("drop_collection", lambda db, rev: db.drop_collection(ITEMS)),
    ("ensure_index", lambda db, rev: db.ensure_index(ITEMS, ["n"])),
]


@pytest.mark.parametrize(("label", "write"), FACE_WRITES, ids=[label for label, _ in FACE_WRITES])
async def test_every_write_of_the_face_raises_and_writes_nothing(
    label: str, write: FaceWrite
) -> None:
    memory = MemoryDriver()
    rev = await memory.put(ITEMS, "a", {"n": 1})
    before = await _stored(memory)
    db = DatabaseService(ReadOnlyMiddleware(memory))
    with pytest.raises(ReadOnlyError, match="read-only"):
        await write(db, rev)
    assert await _stored(memory) == before


async def test_reads_through_the_face_are_unchanged() -> None:
    memory = MemoryDriver()
    for n in range(5):
        await memory.put(ITEMS, f"d{n}", {"n": n})
    async with DatabaseService(ReadOnlyMiddleware(memory)) as db:
        await db.ping()
        assert (await db.get(ITEMS, "d1"))["n"] == 1
        assert len(await db.list_all(ITEMS)) == 5
        assert [d["_id"] async for d in db.iter_all(ITEMS, page_size=2)] == [
            f"d{n}" for n in range(5)
        ]
        page = await db.list_page(ITEMS, limit=2)
        assert len(page.items) == 2 and page.next_cursor
        assert set(await db.get_many(ITEMS, ["d0", "zz"])) == {"d0", "zz"}
        assert [d["_id"] for d in await db.find(ITEMS, {"n": 3})] == ["d3"]
        assert await db.list_collections() == [ITEMS]


def test_the_refusal_names_the_operation_and_collection() -> None:
    assert (
        str(ReadOnlyError("put", ITEMS))
        == "the database is read-only: put on collection 'items' refused"
    )
    assert ReadOnlyMiddleware(MemoryDriver()).describe() == "memory (read-only)"


async def test_the_rest_server_answers_a_refused_write_with_403() -> None:
    pytest.importorskip("fastapi")
    from asyncdb.server import ServerConfig, create_app

    memory = MemoryDriver()
    await memory.put("notes", "n1", {"text": "hi"})
    app = create_app(
        service=DatabaseService(ReadOnlyMiddleware(memory)),
        config=ServerConfig(log_level="warning"),
    )
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as http,
    ):
        refused = await http.put("/v1/notes/n2", json={"text": "no"})
        assert refused.status_code == 403
        assert refused.json()["error"]["type"] == "ReadOnlyError"
        assert (await http.delete("/v1/notes/n1")).status_code == 403
        assert (await http.get("/v1/notes/n1")).json()["text"] == "hi"
    assert (await memory.get("notes", "n2")) is None
