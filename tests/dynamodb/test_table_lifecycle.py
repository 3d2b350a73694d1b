"""Tables take time to appear and to go on DynamoDB: CreateTable and DeleteTable only start
the change, and the table is CREATING or DELETING for seconds on AWS. These tests run on a
dynalite of their own that keeps every table in those states for half a second, so that the
driver's waiting is exercised on every run rather than by the luck of timing."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from asyncdb._service import DatabaseService
from asyncdb.drivers.dynamodb import DynamoDBDriver
from asyncdb.errors import BackendUnavailableError
from asyncdb.middleware.base import DriverWrapper
from asyncdb.middleware.prefix import PrefixMiddleware
from tests.backends.dynamodb import ENV_VAR, DynamoDBEndpoint, dynalite_server
from tests.backends.fixtures import serve

#: How long this server keeps a table CREATING or DELETING.
TABLE_DELAY_MS = 500


@pytest.fixture(scope="module")
def slow_tables() -> Iterator[DynamoDBEndpoint]:
    """A dynalite whose tables change state slowly; or the external endpoint, when the
    environment names one (real DynamoDB is slow by itself)."""
    external = os.environ.get(ENV_VAR)
    if external:
        yield DynamoDBEndpoint("external", external.rstrip("/"))
        return
    yield from serve("dynamodb (dynalite, slow tables)", lambda: dynalite_server(TABLE_DELAY_MS))


def _driver(endpoint: DynamoDBEndpoint, **overrides: Any) -> DynamoDBDriver:
    return DynamoDBDriver(**{**endpoint.driver_kwargs(), "request_timeout": 10.0, **overrides})


@pytest.fixture
async def db(slow_tables: DynamoDBEndpoint) -> AsyncIterator[DatabaseService]:
    prefix = f"t{secrets.token_hex(5)}_"
    async with DatabaseService(PrefixMiddleware(_driver(slow_tables), prefix)) as service:
        yield service
        for name in await service.list_collections():
            await service.drop_collection(name)


async def _client(db: DatabaseService) -> Any:
    driver = db.driver
    assert isinstance(driver, PrefixMiddleware)
    backend = driver.inner
    while isinstance(backend, DriverWrapper):  # the coalescer sits under the middleware
        backend = backend.inner
    assert isinstance(backend, DynamoDBDriver)
    return await backend._transport.client()


async def _status(db: DatabaseService, collection: str) -> str | None:
    """The table's status as DescribeTable reports it; None when it does not exist."""
    client = await _client(db)
    try:
        response = await client.describe_table(TableName=_table(db, collection))
    except client.exceptions.ResourceNotFoundException:
        return None
    status: str = response["Table"]["TableStatus"]
    return status


def _table(db: DatabaseService, collection: str) -> str:
    driver = db.driver
    assert isinstance(driver, PrefixMiddleware)
    return driver.prefix + collection


async def test_the_first_write_waits_until_the_table_is_active(db: DatabaseService) -> None:
    saved = await db.save("docs", "a", {"v": 1})
    assert await _status(db, "docs") == "ACTIVE"
    assert await db.get("docs", "a") == saved


async def test_drop_returns_once_the_table_is_gone(db: DatabaseService) -> None:
    await db.save("docs", "a", {"v": 1})
    await db.save("kept", "b", {"v": 1})
    await db.drop_collection("docs")
    assert await _status(db, "docs") is None
    assert await db.list_collections() == ["kept"]


async def test_a_write_right_after_a_drop_creates_the_table_again(db: DatabaseService) -> None:
    await db.save("docs", "old", {"v": 1})
    await db.drop_collection("docs")
    await db.save("docs", "new", {"v": 2})
    assert [d["_id"] for d in await db.list_all("docs")] == ["new"]


async def test_concurrent_drops_of_one_table_all_return_after_it_is_gone(
    db: DatabaseService,
) -> None:
    await db.save("docs", "a", {"v": 1})
    # The second and third DeleteTable find it DELETING (ResourceInUseException) and wait.
    await asyncio.gather(*(db.drop_collection("docs") for _ in range(3)))
    assert await _status(db, "docs") is None


async def test_a_drop_while_the_table_is_being_created_waits_then_deletes(
    db: DatabaseService,
) -> None:
    # Another process has just started creating the table; DeleteTable refuses a CREATING
    # table (ResourceInUseException), so the drop waits for ACTIVE and deletes it then.
    client = await _client(db)
    await client.create_table(
        TableName=_table(db, "docs"),
        KeySchema=[{"AttributeName": "_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    assert await _status(db, "docs") == "CREATING"
    await db.drop_collection("docs")
    assert await _status(db, "docs") is None


async def test_a_table_that_never_finishes_deleting_is_unavailable(
    slow_tables: DynamoDBEndpoint,
) -> None:
    prefix = f"t{secrets.token_hex(5)}_"
    patient = DatabaseService(PrefixMiddleware(_driver(slow_tables), prefix))
    impatient = DatabaseService(PrefixMiddleware(_driver(slow_tables, table_wait=0.05), prefix))
    async with patient, impatient:
        await patient.save("docs", "a", {"v": 1})
        with pytest.raises(BackendUnavailableError, match="did not finish deleting within"):
            await impatient.drop_collection("docs")
        assert await _status(patient, "docs") == "DELETING"
        await patient.drop_collection("docs")  # a drop of a table already going waits too
        assert await _status(patient, "docs") is None
