"""``FirestoreDriver(client=...)``: a ``FirestoreAsyncClient`` the user opened. What the
driver did not open, it does not close; one connection per driver, opened by its first
caller, on the real emulator."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from google.api_core import exceptions as gexc
from google.cloud.firestore_v1.services.firestore import FirestoreAsyncClient
from google.cloud.firestore_v1.services.firestore.transports import (
    FirestoreGrpcAsyncIOTransport,
)

from asyncdb import DatabaseService
from asyncdb.drivers.firestore import FirestoreDriver
from asyncdb.drivers.firestore import _transport as transport_module
from asyncdb.errors import ConfigurationError
from tests.backends.firestore import TEST_PROJECT

OWNER = (("authorization", "Bearer owner"),)


@pytest.fixture
def collection() -> str:
    return f"t{secrets.token_hex(5)}_client"


@pytest.fixture
async def client(firestore_host: str) -> AsyncIterator[FirestoreAsyncClient]:
    """The user's own client of the emulator, closed by the user (this fixture)."""
    channel = grpc.aio.insecure_channel(firestore_host)
    user_client = FirestoreAsyncClient(
        transport=FirestoreGrpcAsyncIOTransport(host=firestore_host, channel=channel)
    )
    yield user_client
    await user_client.transport.close()  # type: ignore[no-untyped-call]


def _document_name(collection: str, doc_id: str) -> str:
    return f"projects/{TEST_PROJECT}/databases/(default)/documents/{collection}/{doc_id}"


async def _read_with(client: FirestoreAsyncClient, collection: str, doc_id: str) -> Any:
    return await client.get_document(
        request={"name": _document_name(collection, doc_id)}, metadata=OWNER, timeout=10
    )


async def test_a_driver_over_a_users_client_leaves_it_open(
    firestore_host: str, client: FirestoreAsyncClient, collection: str
) -> None:
    driver = FirestoreDriver(project=TEST_PROJECT, emulator_host=firestore_host, client=client)
    async with DatabaseService(driver) as db:
        saved = await db.save(collection, "a", {"v": 1})
        assert (await db.get(collection, "a")) == saved
    # The service closed the driver; the user's client still answers, and sees the write.
    document = await _read_with(client, collection, "a")
    assert document.fields["v"].integer_value == 1
    # The driver itself goes on over the same client after aclose().
    await driver.aclose()
    assert (await driver.get(collection, "a")) is not None
    await driver.drop_collection(collection)
    await driver.aclose()
    with pytest.raises(gexc.NotFound):
        await _read_with(client, collection, "a")


async def test_the_driver_closes_the_client_it_opened(firestore_host: str) -> None:
    driver = FirestoreDriver(project=TEST_PROJECT, emulator_host=firestore_host)
    connection = await driver._transport.connection()
    assert (await driver.get("items", "absent")) is None
    await driver.aclose()
    with pytest.raises(grpc.aio.UsageError, match="closed"):
        await connection.client.get_document(
            request={"name": _document_name("items", "absent")}, metadata=OWNER, timeout=5
        )


def test_a_users_client_needs_a_project_or_the_emulator() -> None:
    async def check() -> None:
        client = FirestoreAsyncClient(
            transport=FirestoreGrpcAsyncIOTransport(
                host="127.0.0.1:1", channel=grpc.aio.insecure_channel("127.0.0.1:1")
            )
        )
        try:
            with pytest.raises(ConfigurationError, match="project"):
                FirestoreDriver(client=client)
        finally:
            await client.transport.close()  # type: ignore[no-untyped-call]

    asyncio.run(check())


def test_a_client_of_another_kind_is_refused() -> None:
    with pytest.raises(TypeError, match="FirestoreAsyncClient"):
        FirestoreDriver(project=TEST_PROJECT, client=object())  # type: ignore[arg-type]


async def test_concurrent_first_calls_open_one_connection(
    firestore_host: str, collection: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[object] = []
    real_connect = transport_module.connect

    async def counting_connect(*args: Any) -> Any:
        opened.append(args)
        await asyncio.sleep(0.05)  # let every caller arrive while the first one connects
        return await real_connect(*args)

    monkeypatch.setattr(transport_module, "connect", counting_connect)
    driver = FirestoreDriver(project=TEST_PROJECT, emulator_host=firestore_host)
    records = await asyncio.gather(*(driver.get(collection, f"d{n}") for n in range(8)))
    assert records == [None] * 8
    assert len(opened) == 1
    # Closed, the driver opens one new connection on its next use.
    await driver.aclose()
    assert (await driver.get(collection, "d0")) is None
    assert len(opened) == 2
    await driver.aclose()
