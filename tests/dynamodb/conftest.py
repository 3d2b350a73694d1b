"""The DynamoDB test servers: dynalite and moto, each started once per session.

``dynamodb_endpoint`` is parametrised over both emulators, so every test that uses it runs
against each; with ``ASYNCDB_TEST_DYNAMODB_URL`` set it runs once, against that endpoint,
and nothing is started.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from asyncdb._service import DatabaseService
from asyncdb.drivers.dynamodb import DynamoDBDriver
from asyncdb.middleware.prefix import PrefixMiddleware
from tests.backends.dynamodb import ENV_VAR, DynamoDBEndpoint
from tests.dynamodb._indexed import COLLECTIONS
from tests.dynamodb._proxy import FaultProxy

KINDS = ["external"] if os.environ.get(ENV_VAR) else ["dynalite", "moto"]


@pytest.fixture(scope="session", params=KINDS)
def dynamodb_endpoint(request: pytest.FixtureRequest) -> DynamoDBEndpoint:
    """A running DynamoDB-compatible server: the session-wide dynalite or moto fixture
    (tests/backends/fixtures.py), so each emulator starts at most once per run."""
    name = "moto_endpoint" if request.param == "moto" else "dynalite_endpoint"
    endpoint: DynamoDBEndpoint = request.getfixturevalue(name)
    return endpoint


@pytest.fixture
def make_driver(dynamodb_endpoint: DynamoDBEndpoint) -> Callable[..., DynamoDBDriver]:
    """Build a driver for the session's server; keyword arguments override the defaults
    (short back-off so that retry tests stay quick)."""

    def make(**overrides: object) -> DynamoDBDriver:
        kwargs: dict[str, object] = {
            **dynamodb_endpoint.driver_kwargs(),
            "request_timeout": 10.0,
            "backoff_base": 0.005,
            "backoff_cap": 0.05,
        }
        kwargs.update(overrides)
        return DynamoDBDriver(**kwargs)  # type: ignore[arg-type]

    return make


# -- the index tests (test_native_queries.py, test_index_lifecycle.py; a module that defines
# -- a fixture of the same name uses its own) ----------------------------------------------
@pytest.fixture
async def proxy(dynamodb_endpoint: DynamoDBEndpoint) -> AsyncIterator[FaultProxy]:
    async with FaultProxy(dynamodb_endpoint.url) as running:
        yield running


@pytest.fixture
def prefix() -> str:
    return f"n{secrets.token_hex(4)}_"


@pytest.fixture
async def make_db(
    make_driver: Callable[..., DynamoDBDriver], proxy: FaultProxy, prefix: str
) -> AsyncIterator[Callable[..., DatabaseService]]:
    """Services on the same tables (through the proxy unless ``direct=True``); every
    collection is dropped at the end."""
    opened: list[DatabaseService] = []

    def make(*, direct: bool = False, **overrides: Any) -> DatabaseService:
        kwargs: dict[str, Any] = {"index_refresh_seconds": 0.0, **overrides}
        if not direct:
            kwargs["endpoint_url"] = proxy.url
        service = DatabaseService(PrefixMiddleware(make_driver(**kwargs), prefix))
        opened.append(service)
        return service

    yield make
    for service in opened:
        await service.aclose()
    async with DatabaseService(PrefixMiddleware(make_driver(), prefix)) as cleanup:
        for name in COLLECTIONS:
            await cleanup.drop_collection(name)


@pytest.fixture
async def db(make_db: Callable[..., DatabaseService]) -> AsyncIterator[DatabaseService]:
    async with make_db() as service:
        yield service
