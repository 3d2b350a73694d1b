"""Coalescing on SQLite, counted in the statements the connection runs (its trace
callback): 32 concurrent gets are one ``SELECT ... IN``, 32 concurrent saves one
multi-row write in one transaction; a row that is not a document is still get's own
error for its caller only."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from asyncdb import DatabaseService
from asyncdb.drivers.sqlite import SQLiteDriver
from asyncdb.drivers.sqlite._tables import table
from asyncdb.errors import BackendError, NotFoundError

N = 32


class Traced:
    """A service over a fresh SQLite driver, and every statement its connection runs."""

    def __init__(self, path: Path, *, coalesce: bool = True) -> None:
        self.driver = SQLiteDriver(str(path))
        self.db = DatabaseService(self.driver, coalesce=coalesce)
        self.statements: list[str] = []

    async def start(self) -> None:
        await self.db.save_many("items", [{"_id": f"d{i}", "n": i} for i in range(N)])
        connection = await self.driver._transport.connection()
        await connection.set_trace_callback(self.statements.append)

    def on_table(self) -> list[str]:
        """The statements that touched the collection's table, by their first word."""
        return [s.split()[0].upper() for s in self.statements if table("items") in s]


@pytest.fixture
async def traced(sqlite_path: Path) -> AsyncIterator[Traced]:
    made = Traced(sqlite_path)
    await made.start()
    try:
        yield made
    finally:
        await made.db.aclose()


async def test_32_concurrent_gets_are_one_statement(traced: Traced) -> None:
    docs = await asyncio.gather(*(traced.db.get("items", f"d{i}") for i in range(N)))
    assert [doc["n"] for doc in docs] == list(range(N))
    assert traced.on_table() == ["SELECT"]


async def test_32_concurrent_saves_are_one_write(traced: Traced) -> None:
    saved = await asyncio.gather(*(traced.db.save("items", f"s{i}", {"n": i}) for i in range(N)))
    writes = [word for word in traced.on_table() if word != "SELECT"]
    assert len(writes) == 1, traced.statements
    assert await traced.db.get_many("items", [f"s{i}" for i in range(N)]) == {
        doc["_id"]: doc for doc in saved
    }


async def test_without_coalescing_they_are_32_statements(sqlite_path: Path) -> None:
    plain = Traced(sqlite_path, coalesce=False)
    await plain.start()
    try:
        await asyncio.gather(*(plain.db.get("items", f"d{i}") for i in range(N)))
        assert plain.on_table() == ["SELECT"] * N
    finally:
        await plain.db.aclose()


async def test_an_unreadable_row_is_gets_error_for_its_caller_only(
    traced: Traced, sqlite_path: Path
) -> None:
    connection = sqlite3.connect(sqlite_path, isolation_level=None)
    connection.execute(
        f"INSERT INTO {table('items')} (id, rev, body) VALUES ('array', '1-x', '[1]')"
    )
    connection.close()
    got = await asyncio.gather(
        traced.db.get("items", "d1"),
        traced.db.get("items", "array"),
        traced.db.get("items", "none"),
        return_exceptions=True,
    )
    assert got[0]["n"] == 1  # type: ignore[index]
    assert isinstance(got[1], BackendError) and "not a JSON object" in str(got[1])
    assert isinstance(got[2], NotFoundError)
    # One batch read, then the two ids it did not return, each read alone.
    assert traced.on_table() == ["SELECT"] * 3
