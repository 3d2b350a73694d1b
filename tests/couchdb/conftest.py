"""The CouchDB server for this test session: pouchdb-server started here, or the CouchDB
3.x named by ``ASYNCDB_TEST_COUCHDB_URL`` (credentials in the URL; nothing is started)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.servers._process import unavailable
from tests.servers.couchdb import couchdb_server


@pytest.fixture(scope="session")
def couchdb_url() -> Iterator[str]:
    """Base URL of a running CouchDB-compatible server (may carry credentials)."""
    try:
        server = couchdb_server()
        url = server.__enter__()
    except Exception as exc:
        unavailable("couchdb", f"{type(exc).__name__}: {exc}")
        raise  # unreachable: unavailable() fails or skips
    try:
        yield url
    finally:
        server.__exit__(None, None, None)
