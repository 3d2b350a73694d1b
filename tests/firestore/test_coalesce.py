"""Coalescing on Firestore, counted at a gRPC proxy in front of the emulator: 32
concurrent gets are one BatchGetDocuments, 32 concurrent saves one BatchWrite; a lost
answer leaves each write unknown, and each caller keeps its own outcome."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator

import grpc
import pytest
from google.cloud import firestore

from asyncdb._service import DatabaseService
from asyncdb.drivers.firestore import FirestoreDriver
from asyncdb.drivers.firestore._ids import MAX_KEY_BYTES, ORIGINAL_ID_FIELD, stored_id
from asyncdb.errors import BackendUnavailableError, NotFoundError, WriteOutcomeUnknownError
from tests.backends.firestore import TEST_PROJECT
from tests.firestore._proxy import LosingProxy

N = 32


@pytest.fixture
async def proxy(firestore_host: str) -> AsyncIterator[LosingProxy]:
    async with LosingProxy(firestore_host) as running:
        yield running


def _driver(proxy: LosingProxy) -> FirestoreDriver:
    return FirestoreDriver(
        project=TEST_PROJECT, emulator_host=proxy.host, max_retries=2, retry_base_delay=0.001
    )


@pytest.fixture
async def db(proxy: LosingProxy) -> AsyncIterator[tuple[DatabaseService, str]]:
    collection = f"t{secrets.token_hex(5)}_items"
    async with DatabaseService(_driver(proxy)) as service:
        result = await service.save_many(collection, [{"_id": f"d{i}", "n": i} for i in range(N)])
        assert result.ok
        proxy.calls.clear()
        yield service, collection
        proxy.lose_next("BatchWrite", 0)
        proxy.refuse_next("BatchGetDocuments", grpc.StatusCode.OK, 0)
        await service.drop_collection(collection)


async def test_32_concurrent_gets_are_one_batch_get(
    db: tuple[DatabaseService, str], proxy: LosingProxy
) -> None:
    service, items = db
    got = await asyncio.gather(
        *(service.get(items, f"d{i}") for i in range(N)),
        service.get(items, "missing"),
        return_exceptions=True,
    )
    assert proxy.calls == ["BatchGetDocuments"]
    assert [doc["n"] for doc in got[:N]] == list(range(N))  # type: ignore[index]
    assert isinstance(got[N], NotFoundError)


async def test_32_concurrent_saves_are_one_batch_write(
    db: tuple[DatabaseService, str], proxy: LosingProxy
) -> None:
    service, items = db
    saved = await asyncio.gather(*(service.save(items, f"s{i}", {"n": i}) for i in range(N)))
    assert proxy.calls == ["BatchWrite"]
    assert await service.get_many(items, [f"s{i}" for i in range(N)]) == {
        doc["_id"]: doc for doc in saved
    }


async def test_without_coalescing_they_are_single_calls(
    db: tuple[DatabaseService, str], proxy: LosingProxy
) -> None:
    _, items = db
    async with DatabaseService(_driver(proxy), coalesce=False) as plain:
        await asyncio.gather(*(plain.get(items, f"d{i}") for i in range(N)))
        await asyncio.gather(*(plain.save(items, f"s{i}", {}) for i in range(N)))
    assert proxy.calls.count("GetDocument") == N and proxy.calls.count("Commit") == N


async def test_conditional_saves_stay_single_commits(
    db: tuple[DatabaseService, str], proxy: LosingProxy
) -> None:
    service, items = db
    current = await service.get(items, "d0")
    proxy.calls.clear()
    await asyncio.gather(
        service.save(items, "d0", {**current, "v": 2}), service.create(items, "x", {})
    )
    assert proxy.calls == ["Commit", "Commit"]


async def test_a_lost_batch_answer_leaves_every_write_unknown(
    db: tuple[DatabaseService, str], proxy: LosingProxy
) -> None:
    service, items = db
    proxy.lose_next("BatchWrite", 10)
    written = await asyncio.gather(
        *(service.save(items, f"w{i}", {"i": i}) for i in range(N)), return_exceptions=True
    )
    assert all(isinstance(answer, WriteOutcomeUnknownError) for answer in written)
    proxy.lose_next("BatchWrite", 0)
    stored = await service.get_many(items, [f"w{i}" for i in range(N)])
    assert all(doc is not None and doc["i"] == i for i, doc in enumerate(stored.values()))


async def test_a_refused_batch_read_fails_every_caller(
    db: tuple[DatabaseService, str], proxy: LosingProxy
) -> None:
    service, items = db
    proxy.refuse_next("BatchGetDocuments", grpc.StatusCode.UNAVAILABLE, 10)
    got = await asyncio.gather(
        *(service.get(items, f"d{i}") for i in range(N)), return_exceptions=True
    )
    assert all(isinstance(answer, BackendUnavailableError) for answer in got)
    assert proxy.calls == ["BatchGetDocuments"] * 3  # the batch and its 2 retries


async def test_a_forged_digest_document_never_answers_for_another_id(
    db: tuple[DatabaseService, str], firestore_host: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A document another program stored under the digest key of a long id ``A``, naming
    the id ``B`` as its own: ``get(A)`` finds nothing and ``get(B)`` gets ``B``'s own
    document, alone, coalesced, and through get_many, in either order."""
    service, items = db
    long_id = "L" * (MAX_KEY_BYTES + 10)
    real = await service.save(items, "b", {"v": "real"})
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", firestore_host)
    raw = firestore.AsyncClient(project=TEST_PROJECT)
    try:
        await (
            raw.collection(items)
            .document(stored_id(long_id))
            .set({ORIGINAL_ID_FIELD: "b", "v": "forged"})
        )
    finally:
        raw.close()  # type: ignore[no-untyped-call]
    with pytest.raises(NotFoundError):
        await service.get(items, long_id)
    for order in (["b", long_id], [long_id, "b"]):
        got = await asyncio.gather(*(service.get(items, i) for i in order), return_exceptions=True)
        answers = dict(zip(order, got, strict=True))
        assert answers["b"] == real and isinstance(answers[long_id], NotFoundError)
        assert await service.get_many(items, order) == {"b": real, long_id: None}
