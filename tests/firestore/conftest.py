"""Fixtures of the index tests (test_native_queries.py, test_index_lifecycle.py): drivers
on the emulator behind the recording proxy, with ``index_refresh_seconds=0`` unless told,
and the collections they made dropped afterwards."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from asyncdb._service import DatabaseService
from asyncdb.drivers.firestore import FirestoreDriver
from tests.backends.firestore import TEST_PROJECT
from tests.firestore._proxy import LosingProxy


@pytest.fixture
def name() -> str:
    return f"t{secrets.token_hex(5)}"


@pytest.fixture
async def proxy(firestore_host: str) -> AsyncIterator[LosingProxy]:
    async with LosingProxy(firestore_host) as running:
        yield running


@pytest.fixture
async def make_db(proxy: LosingProxy, name: str) -> AsyncIterator[Callable[..., DatabaseService]]:
    made: list[DatabaseService] = []

    def make(**options: Any) -> DatabaseService:
        options.setdefault("index_refresh_seconds", 0)
        options.setdefault("page_size", 8)
        driver = FirestoreDriver(project=TEST_PROJECT, emulator_host=proxy.host, **options)
        service = DatabaseService(driver)
        made.append(service)
        return service

    yield make
    for service in made:
        for suffix in ("sessions", "tickets", "store", "items"):
            await service.drop_collection(f"{name}_{suffix}")
        await service.aclose()


@pytest.fixture
def db(make_db: Callable[..., DatabaseService]) -> DatabaseService:
    return make_db()
