"""Writes whose retries run out after an attempt that may have been applied.

A deadline, an unavailable or an internal error may come after Firestore committed; if
the retries then run out (or the only attempt was such), the write's outcome is unknown:
``WriteOutcomeUnknownError``, never a plain ``BackendUnavailableError`` that invites a
blind retry. Reads keep ``BackendUnavailableError``; bulk writes report it per document.
The loopback gRPC proxy in front of the real emulator forwards calls and loses answers.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Awaitable, Callable

import grpc
import pytest

from asyncdb._service import DatabaseService
from asyncdb.drivers.firestore import FirestoreDriver
from asyncdb.errors import BackendUnavailableError, ConflictError, WriteOutcomeUnknownError
from tests.backends.firestore import TEST_PROJECT
from tests.firestore._proxy import LosingProxy

LOST = grpc.StatusCode.DEADLINE_EXCEEDED
ATTEMPTS = 3  # max_retries=2


@pytest.fixture
async def proxy(firestore_host: str) -> AsyncIterator[LosingProxy]:
    async with LosingProxy(firestore_host) as running:
        yield running


def _driver(host: str, max_retries: int = ATTEMPTS - 1) -> FirestoreDriver:
    return FirestoreDriver(
        project=TEST_PROJECT, emulator_host=host, max_retries=max_retries, retry_base_delay=0.001
    )


@pytest.fixture
async def direct(firestore_host: str) -> AsyncIterator[DatabaseService]:
    """Another writer, straight to the emulator."""
    async with DatabaseService(_driver(firestore_host)) as service:
        yield service


@pytest.fixture
async def db(
    proxy: LosingProxy, direct: DatabaseService
) -> AsyncIterator[tuple[DatabaseService, str]]:
    collection = f"t{secrets.token_hex(5)}_items"
    async with DatabaseService(_driver(proxy.host)) as service:
        yield service, collection
    await direct.drop_collection(collection)


@pytest.mark.parametrize(
    "code",
    [grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.INTERNAL],
)
async def test_a_save_whose_every_answer_was_lost_is_unknown(
    db: tuple[DatabaseService, str], proxy: LosingProxy, code: grpc.StatusCode
) -> None:
    service, items = db
    proxy.lose_next("Commit", ATTEMPTS, code)
    with pytest.raises(WriteOutcomeUnknownError, match="retries ran out"):
        await service.save(items, "a", {"v": 1})
    assert proxy.calls.count("Commit") == ATTEMPTS
    assert (await service.get(items, "a"))["v"] == 1  # it had been applied


async def test_a_single_lost_attempt_is_unknown(
    proxy: LosingProxy, direct: DatabaseService
) -> None:
    items = f"t{secrets.token_hex(5)}_items"
    async with DatabaseService(_driver(proxy.host, max_retries=0)) as service:
        proxy.lose_next("Commit")
        with pytest.raises(WriteOutcomeUnknownError):
            await service.save(items, "a", {"v": 1})
        assert proxy.calls.count("Commit") == 1
    assert (await direct.get(items, "a"))["v"] == 1
    await direct.drop_collection(items)


async def test_a_lost_attempt_then_refusals_is_still_unknown(
    db: tuple[DatabaseService, str], proxy: LosingProxy
) -> None:
    # The later attempts say "not applied", but the first may have been.
    service, items = db
    exhausted = grpc.StatusCode.RESOURCE_EXHAUSTED
    proxy.plan("Commit", [("lose", LOST), ("refuse", exhausted), ("refuse", exhausted)])
    with pytest.raises(WriteOutcomeUnknownError):
        await service.save(items, "a", {"v": 1})
    assert (await service.get(items, "a"))["v"] == 1


async def test_refusals_that_applied_nothing_stay_unavailable(
    db: tuple[DatabaseService, str], proxy: LosingProxy
) -> None:
    service, items = db
    proxy.refuse_next("Commit", grpc.StatusCode.RESOURCE_EXHAUSTED, ATTEMPTS)
    with pytest.raises(BackendUnavailableError) as caught:
        await service.save(items, "a", {"v": 1})
    assert not isinstance(caught.value, WriteOutcomeUnknownError)
    assert await service.get_many(items, ["a"]) == {"a": None}


async def test_conditional_writes_create_and_update_whose_answers_were_lost_are_unknown(
    db: tuple[DatabaseService, str], proxy: LosingProxy
) -> None:
    service, items = db
    first = await service.save(items, "a", {"n": 1})
    proxy.lose_next("Commit", ATTEMPTS)
    with pytest.raises(WriteOutcomeUnknownError):
        await service.save(items, "a", {"n": 2, "_rev": first["_rev"]})
    proxy.lose_next("Commit", ATTEMPTS)
    with pytest.raises(WriteOutcomeUnknownError):
        await service.create(items, "b", {"n": 1})
    calls = 0

    def bump(doc: dict[str, int]) -> dict[str, int]:
        nonlocal calls
        calls += 1
        proxy.lose_next("Commit", ATTEMPTS)
        return {**doc, "n": doc["n"] + 1}

    with pytest.raises(WriteOutcomeUnknownError):
        await service.update(items, "a", bump)
    assert calls == 1
    assert (await service.get(items, "a"))["n"] == 3
    assert (await service.get(items, "b"))["n"] == 1


async def test_a_delete_whose_every_answer_was_lost_is_unknown(
    db: tuple[DatabaseService, str], proxy: LosingProxy
) -> None:
    # (A retry that reaches the server and finds the document gone answers: False.)
    service, items = db
    saved = await service.save(items, "a", {"v": 1})
    await service.save(items, "b", {"v": 1})
    gone = grpc.StatusCode.UNAVAILABLE
    proxy.plan("Commit", [("lose", LOST), ("refuse", gone), ("refuse", gone)])
    with pytest.raises(WriteOutcomeUnknownError):
        await service.delete(items, "a", rev=saved["_rev"])
    proxy.plan("Commit", [("lose", LOST), ("refuse", gone), ("refuse", gone)])
    with pytest.raises(WriteOutcomeUnknownError):
        await service.delete(items, "b")
    assert await service.get_many(items, ["a", "b"]) == {"a": None, "b": None}


async def test_a_conditional_delete_lost_before_a_recreation_is_unknown_not_a_conflict(
    db: tuple[DatabaseService, str], proxy: LosingProxy, direct: DatabaseService
) -> None:
    # The lost attempt deleted the document, somebody created it again, and the retry's
    # precondition fails on the new one: "conflict" would be a false statement.
    service, items = db
    saved = await service.save(items, "a", {"v": 1})

    async def recreate() -> None:
        await direct.save(items, "a", {"v": "new"})

    proxy.after_lost = recreate
    proxy.lose_next("Commit")
    with pytest.raises(WriteOutcomeUnknownError):
        await service.delete(items, "a", rev=saved["_rev"])
    assert (await service.get(items, "a"))["v"] == "new"


async def test_a_conditional_delete_with_a_truly_stale_revision_is_a_conflict(
    db: tuple[DatabaseService, str], proxy: LosingProxy
) -> None:
    service, items = db
    old = await service.save(items, "a", {"v": 1})
    await service.save(items, "a", {"v": 2})
    proxy.refuse_next("Commit", grpc.StatusCode.RESOURCE_EXHAUSTED)
    with pytest.raises(ConflictError):
        await service.delete(items, "a", rev=old["_rev"])


async def test_reads_that_run_out_of_retries_are_unavailable(
    db: tuple[DatabaseService, str], proxy: LosingProxy
) -> None:
    service, items = db
    await service.save(items, "a", {"v": 1})
    reads: list[tuple[str, Callable[[], Awaitable[object]]]] = [
        ("GetDocument", lambda: service.get(items, "a")),
        ("RunQuery", lambda: service.list_all(items)),
        ("BatchGetDocuments", lambda: service.get_many(items, ["a"])),
    ]
    for method, read in reads:
        proxy.refuse_next(method, LOST, ATTEMPTS)
        with pytest.raises(BackendUnavailableError) as caught:
            await read()
        assert not isinstance(caught.value, WriteOutcomeUnknownError), method


async def test_bulk_writes_whose_answers_were_lost_are_unknown_per_document(
    db: tuple[DatabaseService, str], proxy: LosingProxy
) -> None:
    service, items = db
    old = await service.save(items, "guarded", {"v": 1})
    proxy.lose_next("BatchWrite", ATTEMPTS)
    result = await service.save_many(
        items, [{"_id": "guarded", "_rev": old["_rev"], "v": 2}, {"_id": "plain", "v": 1}]
    )
    assert sorted((o.id, type(o.error)) for o in result.failed) == [
        ("guarded", WriteOutcomeUnknownError),
        ("plain", WriteOutcomeUnknownError),
    ]
    assert (await service.get(items, "guarded"))["v"] == 2
    proxy.lose_next("BatchWrite", ATTEMPTS)
    deleted = await service.delete_many(items, ["guarded", "plain"])
    assert sorted((o.id, type(o.error)) for o in deleted.failed) == [
        ("guarded", WriteOutcomeUnknownError),
        ("plain", WriteOutcomeUnknownError),
    ]
    assert await service.get_many(items, ["guarded", "plain"]) == {"guarded": None, "plain": None}


async def test_bulk_writes_refused_without_effect_stay_unavailable_per_document(
    db: tuple[DatabaseService, str], proxy: LosingProxy
) -> None:
    service, items = db
    proxy.refuse_next("BatchWrite", grpc.StatusCode.RESOURCE_EXHAUSTED, ATTEMPTS)
    result = await service.save_many(items, [{"_id": "a", "v": 1}, {"_id": "b", "v": 1}])
    assert [type(o.error) for o in result.failed] == [BackendUnavailableError] * 2
    assert await service.get_many(items, ["a", "b"]) == {"a": None, "b": None}
