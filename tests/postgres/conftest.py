"""Fixtures of the PostgreSQL driver's own tests: each test gets a table of its own (so
tests never see each other's rows, nor the conformance suite's), services over it, and a
raw asyncpg connection for looking behind the driver's back."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import pytest

from asyncdb._service import DatabaseService
from asyncdb.drivers.postgres import PostgresDriver


@pytest.fixture
def table() -> str:
    return f"t_{secrets.token_hex(6)}"


@pytest.fixture
async def raw(postgres_url: str, table: str) -> AsyncIterator[asyncpg.Connection]:
    """A plain connection to the server; the test's table is dropped afterwards."""
    connection = await asyncpg.connect(postgres_url)
    yield connection
    await connection.execute(f'DROP TABLE IF EXISTS "{table}"')
    await connection.close()


@pytest.fixture
async def make_driver(
    postgres_url: str, table: str, raw: asyncpg.Connection
) -> AsyncIterator[Callable[..., PostgresDriver]]:
    made: list[PostgresDriver] = []

    def make(**options: Any) -> PostgresDriver:
        options.setdefault("max_retries", 2)
        options.setdefault("table", table)
        driver = PostgresDriver(postgres_url, **options)
        made.append(driver)
        return driver

    yield make
    for driver in made:
        await driver.aclose()


@pytest.fixture
async def db(make_driver: Callable[..., PostgresDriver]) -> AsyncIterator[DatabaseService]:
    service = DatabaseService(make_driver())
    yield service
    await service.aclose()
