"""Writes whose answers are lost (issue 10, items 1 and 8): a write is acknowledged only when
it happened, never applied twice, and a write whose fate is open raises
``WriteOutcomeUnknownError``. The faults come from the loopback proxy in front of the real
emulator: it forwards a request and then drops the connection without the answer, or
holds a request until the client has given up and delivers it late."""

from __future__ import annotations

import asyncio
import random
import secrets
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from asyncdb._service import DatabaseService
from asyncdb.drivers.dynamodb import DynamoDBDriver
from asyncdb.errors import (
    BackendUnavailableError,
    ConflictError,
    WriteOutcomeUnknownError,
)
from asyncdb.middleware.prefix import PrefixMiddleware
from tests.backends._process import free_port
from tests.backends.dynamodb import DynamoDBEndpoint
from tests.dynamodb._proxy import (
    DropAnswer,
    FaultProxy,
    Forward,
    Reply,
    error_reply,
    reads_a_document,
)

MakeDriver = Callable[..., DynamoDBDriver]


@pytest.fixture
async def proxy(dynamodb_endpoint: DynamoDBEndpoint) -> AsyncIterator[FaultProxy]:
    async with FaultProxy(dynamodb_endpoint.url) as running:
        yield running


@pytest.fixture
async def pair(
    make_driver: MakeDriver, proxy: FaultProxy
) -> AsyncIterator[tuple[DatabaseService, DatabaseService]]:
    """(a service through the proxy, a direct one on the same tables: "another writer")."""
    prefix = f"t{secrets.token_hex(5)}_"
    faulty = DatabaseService(PrefixMiddleware(make_driver(endpoint_url=proxy.url), prefix))
    direct = DatabaseService(PrefixMiddleware(make_driver(), prefix))
    async with faulty, direct:
        await direct.save("docs", "warm", {})  # the table exists before any fault
        yield faulty, direct
        proxy.handler = _passthrough
        await proxy.settle()
        await direct.drop_collection("docs")


async def _passthrough(operation: str, payload: dict[str, Any], forward: Forward) -> Reply:
    return await forward(payload)


def _lands_then_someone_writes(
    direct: DatabaseService, operation: str, doc_id: str
) -> Callable[[str, dict[str, Any], Forward], Any]:
    """The first ``operation`` lands, another writer writes the document, and the answer of
    the first is lost; everything else passes."""
    state = {"done": False}

    async def handler(op: str, payload: dict[str, Any], forward: Forward) -> Reply:
        reply = await forward(payload)
        if op == operation and not state["done"]:
            state["done"] = True
            await direct.save("docs", doc_id, {"ops": ["other"], "v": -1})
            raise DropAnswer
        return reply

    return handler


# -- issue 10, item 1: a landed write is never reported as a conflict -----------------------
async def test_update_whose_landed_write_lost_its_answer_is_not_run_again(
    pair: tuple[DatabaseService, DatabaseService], proxy: FaultProxy
) -> None:
    faulty, direct = pair
    await direct.save("docs", "u", {"ops": []})
    proxy.handler = _lands_then_someone_writes(direct, "PutItem", "u")
    runs: list[int] = []

    def append(doc: dict[str, Any]) -> None:
        runs.append(1)
        doc["ops"].append("op1")

    # Old code: the retry's condition fails, the read-back finds neither revision, the
    # driver says ConflictError, and update() runs append a second time.
    with pytest.raises(WriteOutcomeUnknownError):
        await faulty.update("docs", "u", append)
    assert runs == [1]


@pytest.mark.parametrize("kind", ["create", "save_rev", "delete_rev"])
async def test_a_conditional_write_met_by_another_writer_after_a_lost_answer_is_unknown(
    pair: tuple[DatabaseService, DatabaseService], proxy: FaultProxy, kind: str
) -> None:
    faulty, direct = pair
    operation = "DeleteItem" if kind == "delete_rev" else "PutItem"
    if kind == "create":
        await direct.delete("docs", "c")
    else:
        base = await direct.save("docs", "c", {"v": 0})
    proxy.handler = _lands_then_someone_writes(direct, operation, "c")
    if kind == "create":
        write = faulty.create("docs", "c", {"v": 1})
    elif kind == "save_rev":
        write = faulty.save("docs", "c", {**base, "v": 1})
    else:
        write = faulty.delete("docs", "c", rev=base["_rev"])
    with pytest.raises(WriteOutcomeUnknownError):
        await write


async def test_a_conditional_write_whose_retry_meets_its_own_revision_succeeds(
    pair: tuple[DatabaseService, DatabaseService], proxy: FaultProxy
) -> None:
    faulty, direct = pair
    base = await direct.save("docs", "s", {"v": 0})
    state = {"drop": 1}

    async def drop_once(op: str, payload: dict[str, Any], forward: Forward) -> Reply:
        reply = await forward(payload)
        if op == "PutItem" and state["drop"]:
            state["drop"] -= 1
            raise DropAnswer
        return reply

    proxy.handler = drop_once
    saved = await faulty.save("docs", "s", {**base, "v": 1})
    assert (await direct.get("docs", "s"))["_rev"] == saved["_rev"]


async def test_a_read_back_that_fails_leaves_the_write_unknown(
    pair: tuple[DatabaseService, DatabaseService], proxy: FaultProxy
) -> None:
    faulty, direct = pair
    base = await direct.save("docs", "r", {"v": 0})
    state = {"drop": 1}

    async def drop_then_refuse_reads(op: str, payload: dict[str, Any], forward: Forward) -> Reply:
        if reads_a_document(op, payload):
            return error_reply("InternalServerError", "Internal server error", status=500)
        reply = await forward(payload)
        if op == "PutItem" and state["drop"]:
            state["drop"] -= 1
            raise DropAnswer
        return reply

    proxy.handler = drop_then_refuse_reads
    with pytest.raises(WriteOutcomeUnknownError):
        await faulty.save("docs", "r", {**base, "v": 1})


# -- issue 10, item 8: retries that run out after an ambiguous attempt ----------------------
@pytest.mark.parametrize("max_retries", [0, 2])
async def test_writes_whose_answers_never_arrive_are_unknown_and_reads_unavailable(
    make_driver: MakeDriver, proxy: FaultProxy, max_retries: int
) -> None:
    async def drop_all(op: str, payload: dict[str, Any], forward: Forward) -> Reply:
        if op in {"PutItem", "DeleteItem", "BatchWriteItem", "GetItem", "Scan"}:
            await forward(payload)
            raise DropAnswer
        return await forward(payload)

    prefix = f"t{secrets.token_hex(5)}_"
    driver = make_driver(endpoint_url=proxy.url, max_retries=max_retries)
    async with DatabaseService(PrefixMiddleware(driver, prefix)) as db:
        base = await db.save("docs", "a", {"v": 0})
        proxy.handler = drop_all
        for write in (
            lambda: db.save("docs", "a", {"v": 1}),  # unconditional, too
            lambda: db.save("docs", "a", {**base, "v": 2}),
            lambda: db.create("docs", "b", {}),
            lambda: db.delete("docs", "a"),
            lambda: db.delete("docs", "a", rev=base["_rev"]),
        ):
            with pytest.raises(WriteOutcomeUnknownError):
                await write()
        result = await db.save_many("docs", [{"_id": f"m{i}"} for i in range(3)])
        assert [type(o.error) for o in result.outcomes] == [WriteOutcomeUnknownError] * 3
        result = await db.delete_many("docs", ["m0", "m1"])
        assert [type(o.error) for o in result.outcomes] == [WriteOutcomeUnknownError] * 2
        for read in (lambda: db.get("docs", "a"), lambda: db.list_all("docs")):
            with pytest.raises(BackendUnavailableError) as caught:
                await read()
            assert not isinstance(caught.value, WriteOutcomeUnknownError)
        proxy.handler = _passthrough
        await db.drop_collection("docs")


async def test_a_batch_reports_each_document_by_its_own_fate(
    pair: tuple[DatabaseService, DatabaseService], proxy: FaultProxy
) -> None:
    """The first round processes half and leaves the rest; every later answer is lost.
    The processed half is written; the rest is unknown (old code: all unavailable)."""
    faulty, direct = pair
    rounds = {"n": 0}

    async def half_then_drop(op: str, payload: dict[str, Any], forward: Forward) -> Reply:
        if op != "BatchWriteItem":
            return await forward(payload)
        rounds["n"] += 1
        ((table, requests),) = payload["RequestItems"].items()
        if rounds["n"] == 1:
            keep, rest = requests[:3], requests[3:]
            status, body = await forward({"RequestItems": {table: keep}})
            body["UnprocessedItems"] = {table: rest}
            return status, body
        await forward(payload)
        raise DropAnswer

    proxy.handler = half_then_drop
    result = await faulty.save_many("docs", [{"_id": f"d{i}", "i": i} for i in range(6)])
    assert [o.ok for o in result.outcomes] == [True] * 3 + [False] * 3
    assert all(isinstance(o.error, WriteOutcomeUnknownError) for o in result.outcomes[3:])
    got = await direct.get_many("docs", [f"d{i}" for i in range(3)])
    assert [got[f"d{i}"]["_rev"] for i in range(3)] == [o.rev for o in result.outcomes[:3]]


# -- late deliveries --------------------------------------------------------------------
async def test_a_conditional_write_delivered_late_cannot_undo_later_writes(
    make_driver: MakeDriver, proxy: FaultProxy
) -> None:
    """The first attempt of an update stalls until the client has timed out and reaches the
    server only after the retry and another update landed: its condition fails there."""
    state = {"stall": 1}

    async def stall_once(op: str, payload: dict[str, Any], forward: Forward) -> Reply:
        if op == "PutItem" and state["stall"]:
            state["stall"] -= 1
            proxy.later(1.5, forward(payload))
            await asyncio.sleep(0.6)  # past the client's timeout
            raise DropAnswer
        return await forward(payload)

    prefix = f"t{secrets.token_hex(5)}_"
    driver = make_driver(endpoint_url=proxy.url, request_timeout=0.3)
    async with DatabaseService(PrefixMiddleware(driver, prefix)) as db:
        await db.save("docs", "u", {"ops": []})
        proxy.handler = stall_once
        await db.update("docs", "u", lambda d: d["ops"].append("one"))
        await db.update("docs", "u", lambda d: d["ops"].append("two"))
        await proxy.settle()
        assert (await db.get("docs", "u"))["ops"] == ["one", "two"]
        proxy.handler = _passthrough
        await db.drop_collection("docs")


# -- many writers --------------------------------------------------------------------------
async def test_concurrent_updates_under_dropped_answers_apply_each_op_at_most_once(
    pair: tuple[DatabaseService, DatabaseService], proxy: FaultProxy
) -> None:
    faulty, direct = pair
    await direct.save("docs", "log", {"ops": []})
    rng = random.Random(10)

    async def drop_some(op: str, payload: dict[str, Any], forward: Forward) -> Reply:
        reply = await forward(payload)
        if op == "PutItem" and rng.random() < 0.3:
            raise DropAnswer
        return reply

    proxy.handler = drop_some
    outcomes: dict[str, str] = {}

    async def one(op_id: str) -> None:
        try:
            await faulty.update("docs", "log", lambda d: d["ops"].append(op_id), attempts=200)
            outcomes[op_id] = "acked"
        except WriteOutcomeUnknownError:
            outcomes[op_id] = "unknown"
        except ConflictError:
            outcomes[op_id] = "conflict"

    await asyncio.gather(*(one(f"op{i}") for i in range(20)))
    proxy.handler = _passthrough
    ops = (await direct.get("docs", "log"))["ops"]
    assert len(ops) == len(set(ops)), f"an update was applied twice: {ops}"
    acked = {op for op, outcome in outcomes.items() if outcome == "acked"}
    assert acked <= set(ops), f"acknowledged but missing: {acked - set(ops)}"
    refused = {op for op, outcome in outcomes.items() if outcome == "conflict"}
    assert not refused & set(ops), f"answered 'conflict' but applied: {refused & set(ops)}"
    assert acked  # the test did exercise the happy path too


async def test_writes_that_never_left_the_client_are_unavailable_not_unknown(
    make_driver: MakeDriver,
) -> None:
    """A refused connection proves that nothing was sent: no doubt about the outcome."""
    driver = make_driver(endpoint_url=f"http://127.0.0.1:{free_port()}", max_retries=1)
    async with DatabaseService(driver) as db:
        for write in (
            lambda: db.save("docs", "a", {}),
            lambda: db.save("docs", "a", {"_rev": "abc"}),
            lambda: db.delete("docs", "a"),
        ):
            with pytest.raises(BackendUnavailableError) as caught:
                await write()
            assert not isinstance(caught.value, WriteOutcomeUnknownError)
