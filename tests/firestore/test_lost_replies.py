"""Conditional writes whose answer is lost after Firestore committed them.

A retry of such a write meets its own commit as a failed precondition. Reporting a conflict
would be false (and ``update()`` would apply its function twice), so the driver reports
``WriteOutcomeUnknownError``. A loopback gRPC proxy in front of the real emulator lets the
commit through and then answers DEADLINE_EXCEEDED.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest

from asyncdb._service import DatabaseService
from asyncdb.drivers.firestore import FirestoreDriver
from asyncdb.errors import ConflictError, WriteOutcomeUnknownError
from tests.backends.firestore import TEST_PROJECT
from tests.firestore._proxy import LosingProxy


@pytest.fixture
async def proxy(firestore_host: str) -> AsyncIterator[LosingProxy]:
    async with LosingProxy(firestore_host) as running:
        yield running


@pytest.fixture
async def db(proxy: LosingProxy) -> AsyncIterator[tuple[DatabaseService, str]]:
    driver = FirestoreDriver(
        project=TEST_PROJECT, emulator_host=proxy.host, max_retries=2, retry_base_delay=0.001
    )
    collection = f"t{secrets.token_hex(5)}_items"
    async with DatabaseService(driver) as service:
        yield service, collection
        proxy.lose_next("Commit", 0)
        proxy.lose_next("BatchWrite", 0)
        proxy.after_lost = None
        await service.drop_collection(collection)


async def test_a_conditional_save_whose_answer_was_lost_is_unknown(
    db: tuple[DatabaseService, str], proxy: LosingProxy
) -> None:
    service, items = db
    first = await service.save(items, "a", {"v": 1})
    proxy.lose_next("Commit")
    with pytest.raises(WriteOutcomeUnknownError, match="read the document"):
        await service.save(items, "a", {"v": 2, "_rev": first["_rev"]})
    assert (await service.get(items, "a"))["v"] == 2  # it had been committed
    assert proxy.calls.count("Commit") == 3  # the first save, the lost one, its retry


async def test_a_create_whose_answer_was_lost_is_unknown(
    db: tuple[DatabaseService, str], proxy: LosingProxy
) -> None:
    service, items = db
    proxy.lose_next("Commit")
    with pytest.raises(WriteOutcomeUnknownError):
        await service.create(items, "a", {"v": 1})
    assert (await service.get(items, "a"))["v"] == 1


async def test_update_with_a_lost_answer_applies_its_function_once(
    db: tuple[DatabaseService, str], proxy: LosingProxy
) -> None:
    service, items = db
    await service.save(items, "counter", {"n": 0})
    calls = 0

    def increment(doc: dict[str, Any]) -> dict[str, Any]:
        nonlocal calls
        calls += 1
        proxy.lose_next("Commit")
        return {**doc, "n": doc["n"] + 1}

    with pytest.raises(WriteOutcomeUnknownError):
        await service.update(items, "counter", increment)
    assert calls == 1
    assert (await service.get(items, "counter"))["n"] == 1


async def test_an_unconditional_save_with_a_lost_answer_is_simply_written_again(
    db: tuple[DatabaseService, str], proxy: LosingProxy
) -> None:
    service, items = db
    proxy.lose_next("Commit")
    saved = await service.save(items, "a", {"v": 1})
    assert await service.get(items, "a") == saved


async def test_bulk_conditional_writes_with_a_lost_answer_are_unknown_alone(
    db: tuple[DatabaseService, str], proxy: LosingProxy
) -> None:
    service, items = db
    old = await service.save(items, "guarded", {"v": 1})
    proxy.lose_next("BatchWrite")
    result = await service.save_many(
        items, [{"_id": "guarded", "_rev": old["_rev"], "v": 2}, {"_id": "plain", "v": 1}]
    )
    assert [(outcome.id, type(outcome.error)) for outcome in result.failed] == [
        ("guarded", WriteOutcomeUnknownError)
    ]
    assert (await service.get(items, "guarded"))["v"] == 2
    assert (await service.get(items, "plain"))["v"] == 1


async def test_a_true_conflict_after_a_refused_attempt_stays_a_conflict(
    db: tuple[DatabaseService, str], proxy: LosingProxy
) -> None:
    # RESOURCE_EXHAUSTED says nothing was applied, so a failed precondition on the retry
    # is somebody else's revision: a real conflict.
    service, items = db
    first = await service.save(items, "a", {"v": 1})
    await service.save(items, "a", {"v": 2})
    proxy.refuse_next("Commit", grpc.StatusCode.RESOURCE_EXHAUSTED)
    proxy.calls.clear()
    with pytest.raises(ConflictError):
        await service.save(items, "a", {"v": 3, "_rev": first["_rev"]})
    assert proxy.calls.count("Commit") == 2  # refused, then the retry that conflicted
    assert (await service.get(items, "a"))["v"] == 2
