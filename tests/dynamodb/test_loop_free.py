"""The event loop stays free while the driver builds its client: botocore's data files and
the CA bundle are read in a worker thread, never on the loop's own thread. Behaviour, not
time: each read is recorded with the thread it ran on."""

from __future__ import annotations

import os
import ssl
import threading
from collections.abc import Callable
from typing import Any

import pytest
from botocore.loaders import JSONFileLoader

from asyncdb._service import DatabaseService
from asyncdb.drivers.dynamodb import DynamoDBDriver, _transport
from tests.dynamodb.conftest import KINDS

MakeDriver = Callable[..., DynamoDBDriver]

pytestmark = pytest.mark.parametrize("dynamodb_endpoint", KINDS[:1], indirect=True)


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Every botocore data file and CA bundle read from now on: (what, thread id)."""
    seen: list[tuple[str, int]] = []
    load_file = JSONFileLoader.load_file
    load_certificates = ssl.SSLContext.load_verify_locations

    def recording_load_file(self: JSONFileLoader, path: str) -> Any:
        seen.append((os.path.basename(path), threading.get_ident()))
        return load_file(self, path)

    def recording_certificates(self: ssl.SSLContext, *args: Any, **kwargs: Any) -> None:
        seen.append(("CA bundle", threading.get_ident()))
        load_certificates(self, *args, **kwargs)

    monkeypatch.setattr(JSONFileLoader, "load_file", recording_load_file)
    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", recording_certificates)
    # Contexts prepared by earlier tests would hide the certificate load.
    monkeypatch.setattr(_transport, "_TLS_CONTEXTS", {})
    return seen


async def test_client_creation_and_first_requests_read_no_file_on_the_loop(
    make_driver: MakeDriver, reads: list[tuple[str, int]]
) -> None:
    loop_thread = threading.get_ident()
    async with DatabaseService(make_driver()) as db:
        await db.save("loopfree", "d1", {"n": 1})
        assert (await db.get("loopfree", "d1"))["n"] == 1
        await db.drop_collection("loopfree")
    names = {name for name, _ in reads}
    # The recording saw the reads (else this test could not fail): models and certificates.
    assert {"service-2", "endpoints", "CA bundle"} <= names, names
    on_the_loop = [name for name, thread in reads if thread == loop_thread]
    assert on_the_loop == []


async def test_the_first_request_uses_the_prepared_tls_context(make_driver: MakeDriver) -> None:
    driver = make_driver()
    try:
        client = await driver._transport.client()
        await client.list_tables(Limit=1)
        sessions = client._endpoint.http_session._sessions
        connector = next(iter(sessions.values())).connector
        assert connector._ssl in _transport._TLS_CONTEXTS.values()
    finally:
        await driver.aclose()


async def test_a_users_client_is_used_as_it_is(make_driver: MakeDriver) -> None:
    """No session, no data file and no TLS context is prepared for a client the user
    gave: the driver builds nothing."""
    owner = make_driver()
    try:
        client = await owner._transport.client()
        prepared: list[object] = []
        driver = DynamoDBDriver(client=client)
        driver._transport._prepare = lambda: prepared.append(1)  # type: ignore[method-assign]
        assert await driver._transport.client() is client
        assert prepared == []
        await driver.aclose()
        await client.list_tables(Limit=1)  # still open: not ours to close
    finally:
        await owner.aclose()


async def test_a_warm_up_that_fails_leaves_the_client_built_as_before(
    make_driver: MakeDriver, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The warm-up reaches into aioboto3's and botocore's private parts; a release that
    # changes them must cost only the loop time it saved, never the driver.
    def broken(session: Any) -> None:
        raise AttributeError("'AioSession' object has no attribute '_get_internal_component'")

    monkeypatch.setattr(_transport, "_warm", broken)
    monkeypatch.setattr(_transport, "_TLS_CONTEXTS", {})
    async with DatabaseService(make_driver()) as db:
        await db.save("loopfree", "d2", {"n": 2})
        assert (await db.get("loopfree", "d2"))["n"] == 2
        await db.drop_collection("loopfree")
