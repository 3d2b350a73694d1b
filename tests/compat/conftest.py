"""``asyncdb.compat`` built the way the original application builds its service: from a
settings object with the original attribute names, on every backend's real server."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from urllib.parse import unquote, urlsplit, urlunsplit

import pytest

from asyncdb.compat import DatabaseService, get_database_service, reset_database_service
from asyncdb.testing.harness import random_prefix
from tests.backends.dynamodb import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY, DynamoDBEndpoint
from tests.backends.firestore import TEST_PROJECT

BACKENDS = ["memory", "couchdb", "dynamodb", "firestore"]

#: Every collection the tests write, dropped afterwards.
COLLECTIONS = [
    "agents",
    "users",
    "sessions",
    "tickets",
    "demos",
    "deployments",
    "agent_data_store",
]


def original_settings(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, backend: str
) -> SimpleNamespace:
    """The original application's ``Settings`` for ``backend``: upper-case attributes
    (what its ``config.Settings`` reads from the environment of the same names). Firestore's
    project and emulator come from the environment, as they did for the original."""
    if backend == "memory":
        return SimpleNamespace(DATABASE_PROVIDER="memory")
    if backend == "couchdb":
        parts = urlsplit(request.getfixturevalue("couchdb_url"))
        address = parts.hostname or "127.0.0.1"
        if parts.port:
            address += f":{parts.port}"
        return SimpleNamespace(
            DATABASE_PROVIDER="couchdb",
            COUCHDB_URL=urlunsplit((parts.scheme, address, parts.path, "", "")),
            COUCHDB_USER=unquote(parts.username) if parts.username else None,
            COUCHDB_PASSWORD=unquote(parts.password) if parts.password else None,
        )
    if backend == "dynamodb":
        endpoint: DynamoDBEndpoint = request.getfixturevalue("dynalite_endpoint")
        return SimpleNamespace(
            DATABASE_PROVIDER="dynamodb",
            DYNAMODB_REGION=REGION,
            DYNAMODB_ENDPOINT_URL=endpoint.url,
            AWS_ACCESS_KEY_ID=ACCESS_KEY_ID,
            AWS_SECRET_ACCESS_KEY=SECRET_ACCESS_KEY,
        )
    if backend == "firestore":
        monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", request.getfixturevalue("firestore_host"))
        monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", TEST_PROJECT)
        return SimpleNamespace(DATABASE_PROVIDER="firestore")
    raise ValueError(backend)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def settings(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, backend: str
) -> SimpleNamespace:
    """The original-style settings of the backend, isolated by a fresh collection prefix
    (``DATABASE_COLLECTION_PREFIX`` in the environment)."""
    monkeypatch.setenv("DATABASE_COLLECTION_PREFIX", random_prefix())
    for name in ("DATABASE_URL", "DATABASE_PROVIDER"):
        monkeypatch.delenv(name, raising=False)
    return original_settings(request, monkeypatch, backend)


@pytest.fixture
def db(settings: SimpleNamespace) -> Iterator[DatabaseService]:
    """The process singleton, as the original application gets it; dropped and reset
    afterwards."""
    reset_database_service()
    service = get_database_service(settings)
    try:
        yield service
    finally:
        try:
            if not service.closed:
                for name in COLLECTIONS:
                    service.facade.drop_collection(name)
        finally:
            reset_database_service()
