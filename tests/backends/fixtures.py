"""Session fixtures for every backend's real server, shared by all test directories
(registered in tests/conftest.py), so that each server starts at most once per session."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TypeVar

import pytest

from tests.backends._process import unavailable
from tests.backends.couchdb import couchdb_server
from tests.backends.dynamodb import DynamoDBEndpoint, dynamodb_server
from tests.backends.firestore import firestore_emulator
from tests.backends.postgres import postgres_server

T = TypeVar("T")


def serve(backend: str, server: Callable[[], contextlib.AbstractContextManager[T]]) -> Iterator[T]:
    """Yield what ``server()`` runs for as long as the fixture lives; a server that cannot
    start fails the test under ``CI=true`` and skips it elsewhere."""
    stack = contextlib.ExitStack()
    try:
        value = stack.enter_context(server())
    except Exception as exc:  # any failure to start: fail under CI, skip elsewhere
        stack.close()
        unavailable(backend, f"{type(exc).__name__}: {exc}")
        raise  # unreachable: unavailable() fails or skips
    with stack:
        yield value


@pytest.fixture(scope="session")
def couchdb_url() -> Iterator[str]:
    """Base URL of a running CouchDB-compatible server (may carry credentials)."""
    yield from serve("couchdb", couchdb_server)


@pytest.fixture(scope="session")
def dynalite_endpoint() -> Iterator[DynamoDBEndpoint]:
    """dynalite (or the external DynamoDB endpoint named by the environment)."""
    yield from serve("dynamodb (dynalite)", lambda: dynamodb_server("dynalite"))


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[DynamoDBEndpoint]:
    """moto's server (or the external DynamoDB endpoint named by the environment)."""
    yield from serve("dynamodb (moto)", lambda: dynamodb_server("moto"))


@pytest.fixture(scope="session")
def firestore_host() -> Iterator[str]:
    """``host:port`` of a running Firestore emulator."""
    yield from serve("firestore", firestore_emulator)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """``postgresql://`` URL of a running PostgreSQL (with its password)."""
    yield from serve("postgres", postgres_server)
