"""The DynamoDB test servers: dynalite and moto, each started once per session.

``dynamodb_endpoint`` is parametrised over both emulators, so every test that uses it runs
against each; with ``ASYNCDB_TEST_DYNAMODB_URL`` set it runs once, against that endpoint,
and nothing is started.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

from asyncdb.drivers.dynamodb import DynamoDBDriver
from tests.backends.dynamodb import ENV_VAR, DynamoDBEndpoint

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
