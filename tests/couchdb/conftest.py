"""Fixtures of the CouchDB driver's own tests: a fault-injecting proxy in front of the
session's server, services whose drivers talk through it, and raw requests to the server
for looking behind the driver's back."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from yarl import URL

from asyncdb._service import DatabaseService
from asyncdb.drivers.couchdb import CouchDBDriver
from asyncdb.drivers.couchdb._transport import parse_server_url
from asyncdb.middleware.prefix import PrefixMiddleware
from tests.couchdb._proxy import FaultProxy


@pytest.fixture
def prefix() -> str:
    return f"t{secrets.token_hex(5)}_"


@pytest.fixture
async def proxy(couchdb_url: str) -> AsyncIterator[FaultProxy]:
    fault_proxy = FaultProxy(parse_server_url(couchdb_url, None, None).base_url)
    await fault_proxy.start()
    yield fault_proxy
    await fault_proxy.stop()


@pytest.fixture
async def make_db(
    couchdb_url: str, proxy: FaultProxy, prefix: str
) -> AsyncIterator[Callable[..., DatabaseService]]:
    """Services over drivers that talk through the proxy (credentials as the server's)."""
    address = parse_server_url(couchdb_url, None, None)
    made: list[DatabaseService] = []

    def make(size_limit: str = "portable", **options: Any) -> DatabaseService:
        options.setdefault("max_retries", 3)
        driver = CouchDBDriver(proxy.url, user=address.user, password=address.password, **options)
        service = DatabaseService(PrefixMiddleware(driver, prefix), size_limit=size_limit)
        made.append(service)
        return service

    yield make
    proxy.fail_next(0)
    proxy.drop_next(0)
    proxy.lose_reply_next(0)
    for service in made:
        if not service.closed:
            await service.drop_collection("items")
            await service.aclose()


RawRequest = Callable[..., Awaitable[tuple[int, Any]]]


@pytest.fixture
def raw_couch(couchdb_url: str) -> RawRequest:
    """``await raw_couch(method, path, body=None)`` → ``(status, JSON answer)``, sent to
    the server directly with its credentials, past asyncdb and the proxy."""
    address = parse_server_url(couchdb_url, None, None)
    auth = aiohttp.BasicAuth(address.user, address.password or "") if address.user else None

    async def request(method: str, path: str, body: Any = None) -> tuple[int, Any]:
        async with (
            aiohttp.ClientSession(auth=auth, headers={"Accept": "application/json"}) as session,
            session.request(
                method, URL(address.base_url + path, encoded=True), json=body
            ) as response,
        ):
            return response.status, await response.json(content_type=None)

    return request
