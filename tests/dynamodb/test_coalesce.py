"""Coalescing on DynamoDB, counted at the proxy: 32 concurrent gets are one BatchGetItem,
32 concurrent saves two BatchWriteItem (DynamoDB takes 25 writes per call); unprocessed
items are retried and each caller keeps its own outcome."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from asyncdb._service import DatabaseService
from asyncdb.drivers.dynamodb import DynamoDBDriver
from asyncdb.errors import BackendUnavailableError
from asyncdb.middleware.prefix import PrefixMiddleware
from tests.backends.dynamodb import DynamoDBEndpoint
from tests.dynamodb._proxy import FaultProxy, Forward, Reply, error_reply, passthrough

N = 32


@pytest.fixture
async def proxy(dynamodb_endpoint: DynamoDBEndpoint) -> AsyncIterator[FaultProxy]:
    async with FaultProxy(dynamodb_endpoint.url) as running:
        yield running


@pytest.fixture
async def db(
    make_driver: Callable[..., DynamoDBDriver], proxy: FaultProxy
) -> AsyncIterator[DatabaseService]:
    prefix = f"t{secrets.token_hex(5)}_"
    async with DatabaseService(
        PrefixMiddleware(make_driver(endpoint_url=proxy.url), prefix)
    ) as service:
        result = await service.save_many("docs", [{"_id": f"d{i}", "n": i} for i in range(N)])
        assert result.ok
        proxy.calls.clear()
        yield service
        proxy.handler = passthrough
        await service.drop_collection("docs")


async def test_32_concurrent_gets_are_one_batch_get(db: DatabaseService, proxy: FaultProxy) -> None:
    docs = await asyncio.gather(*(db.get("docs", f"d{i}") for i in range(N)))
    assert proxy.calls == ["BatchGetItem"]
    assert [doc["n"] for doc in docs] == list(range(N))


async def test_32_concurrent_saves_are_two_batch_writes(
    db: DatabaseService, proxy: FaultProxy
) -> None:
    saved = await asyncio.gather(*(db.save("docs", f"s{i}", {"n": i}) for i in range(N)))
    assert proxy.calls == ["BatchWriteItem", "BatchWriteItem"]  # 25 + 7
    proxy.calls.clear()
    assert await db.get_many("docs", [f"s{i}" for i in range(N)]) == {
        doc["_id"]: doc for doc in saved
    }


async def test_without_coalescing_they_are_single_calls(
    make_driver: Callable[..., DynamoDBDriver], db: DatabaseService, proxy: FaultProxy
) -> None:
    assert isinstance(db.driver, PrefixMiddleware)
    driver = make_driver(endpoint_url=proxy.url)
    async with DatabaseService(PrefixMiddleware(driver, db.driver.prefix), coalesce=False) as plain:
        await asyncio.gather(*(plain.get("docs", f"d{i}") for i in range(N)))
        await asyncio.gather(*(plain.save("docs", f"s{i}", {}) for i in range(N)))
    assert sorted(set(proxy.calls)) == ["GetItem", "PutItem"]
    # The first saves of a new driver share one read of the table's index registry.
    assert proxy.count("GetItem") == N + 1 and proxy.count("PutItem") == N


async def test_conditional_saves_stay_single_calls(db: DatabaseService, proxy: FaultProxy) -> None:
    current = await db.get_many("docs", ["d0", "d1"])
    proxy.calls.clear()
    await asyncio.gather(
        *(db.save("docs", doc_id, {**doc, "v": 2}) for doc_id, doc in current.items() if doc),
        db.create("docs", "new", {}),
    )
    assert proxy.calls == ["PutItem"] * 3


async def test_unprocessed_items_are_retried(db: DatabaseService, proxy: FaultProxy) -> None:
    state = {"first": True}

    async def half(operation: str, payload: dict[str, Any], forward: Forward) -> Reply:
        if not state["first"] or operation not in {"BatchGetItem", "BatchWriteItem"}:
            return await forward(payload)
        state["first"] = False
        ((table, request),) = payload["RequestItems"].items()
        if operation == "BatchGetItem":
            keys = request["Keys"]
            status, body = await forward(
                {"RequestItems": {table: {**request, "Keys": keys[: len(keys) // 2]}}}
            )
            body["UnprocessedKeys"] = {table: {**request, "Keys": keys[len(keys) // 2 :]}}
        else:
            status, body = await forward({"RequestItems": {table: request[: len(request) // 2]}})
            body["UnprocessedItems"] = {table: request[len(request) // 2 :]}
        return status, body

    proxy.handler = half
    docs = await asyncio.gather(*(db.get("docs", f"d{i}") for i in range(N)))
    assert [doc["n"] for doc in docs] == list(range(N))
    assert proxy.calls == ["BatchGetItem", "BatchGetItem"]
    state["first"] = True
    proxy.calls.clear()
    saved = await asyncio.gather(*(db.save("docs", f"u{i}", {"i": i}) for i in range(20)))
    assert proxy.calls == ["BatchWriteItem", "BatchWriteItem"]
    stored = await db.get_many("docs", [doc["_id"] for doc in saved])
    assert stored == {doc["_id"]: doc for doc in saved}


async def test_a_refused_batch_fails_every_caller(db: DatabaseService, proxy: FaultProxy) -> None:
    async def refuse(operation: str, payload: dict[str, Any], forward: Forward) -> Reply:
        if operation.startswith("Batch"):
            return error_reply("InternalServerError", "down", status=500)
        return await forward(payload)

    proxy.handler = refuse
    got = await asyncio.gather(*(db.get("docs", f"d{i}") for i in range(N)), return_exceptions=True)
    assert all(isinstance(answer, BackendUnavailableError) for answer in got)
    assert set(proxy.calls) == {"BatchGetItem"}
    assert len(proxy.calls) <= 1 + 4  # the batch and its retries, not 32 calls of each
