"""Coalescing on PostgreSQL, counted in the driver's round trips to the server (each
``Transport.run`` is one unit of work on one connection): 32 concurrent gets are one
read, 32 concurrent saves one write; a row that is not a document is still get's own
error for its caller only."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import asyncpg

from asyncdb._service import DatabaseService
from asyncdb.drivers.postgres import PostgresDriver
from asyncdb.errors import BackendError, NotFoundError

N = 32


async def _counted(
    driver: PostgresDriver, *, coalesce: bool = True
) -> tuple[DatabaseService, list[str]]:
    db = DatabaseService(driver, coalesce=coalesce, close_driver=False)
    assert (await db.save_many("items", [{"_id": f"d{i}", "n": i} for i in range(N)])).ok
    seen: list[str] = []
    transport: Any = driver._transport
    run = transport.run

    async def counting(work: Any, what: str, attempts: Any = None) -> Any:
        seen.append(what)
        return await run(work, what, attempts)

    transport.run = counting
    return db, seen


async def test_32_concurrent_gets_are_one_read(make_driver: Callable[..., PostgresDriver]) -> None:
    db, seen = await _counted(make_driver())
    docs = await asyncio.gather(*(db.get("items", f"d{i}") for i in range(N)))
    assert [doc["n"] for doc in docs] == list(range(N))
    assert len(seen) == 1, seen


async def test_32_concurrent_saves_are_one_write(
    make_driver: Callable[..., PostgresDriver],
) -> None:
    db, seen = await _counted(make_driver())
    saved = await asyncio.gather(*(db.save("items", f"s{i}", {"n": i}) for i in range(N)))
    assert len(seen) == 1, seen
    assert await db.get_many("items", [f"s{i}" for i in range(N)]) == {
        doc["_id"]: doc for doc in saved
    }


async def test_without_coalescing_they_are_32_reads(
    make_driver: Callable[..., PostgresDriver],
) -> None:
    db, seen = await _counted(make_driver(), coalesce=False)
    await asyncio.gather(*(db.get("items", f"d{i}") for i in range(N)))
    assert len(seen) == N


async def test_an_unreadable_row_is_gets_error_for_its_caller_only(
    make_driver: Callable[..., PostgresDriver], raw: asyncpg.Connection, table: str
) -> None:
    db, seen = await _counted(make_driver())
    await raw.execute(
        f'INSERT INTO "{table}" (collection, id, rev, doc, body, full_id) '
        "VALUES ($1, $2, $3, $4, $5::jsonb, $6)",
        "items",
        "c-array",
        "1-x",
        "[1, 2]",
        "[]",
        None,
    )
    got = await asyncio.gather(
        db.get("items", "d1"),
        db.get("items", "c-array"),
        db.get("items", "none"),
        return_exceptions=True,
    )
    assert got[0]["n"] == 1  # type: ignore[index]
    assert isinstance(got[1], BackendError) and "not an asyncdb document" in str(got[1])
    assert isinstance(got[2], NotFoundError)
    assert len(seen) == 3  # the batch read, then the two ids it did not return, alone
