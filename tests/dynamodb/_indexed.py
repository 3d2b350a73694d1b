"""Fixtures and helpers of the DynamoDB index tests (test_native_queries.py,
test_index_lifecycle.py): services on shared tables through the request-logging proxy, and
what the log must show of a native read."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from asyncdb._service import DatabaseService
from asyncdb.drivers.dynamodb import DynamoDBDriver
from tests.backends.dynamodb import DynamoDBEndpoint
from tests.dynamodb._proxy import FaultProxy

MakeDriver = Callable[..., DynamoDBDriver]
COLLECTIONS = ("sessions", "tickets", "store", "items")


def adds_gsis(endpoint: DynamoDBEndpoint) -> bool:
    """Whether the server can add a GSI to a table that exists (dynalite cannot)."""
    return endpoint.kind != "dynalite"


def reads(proxy: FaultProxy) -> list[tuple[str, dict[str, Any]]]:
    return [(op, body) for op, body in proxy.requests if op in ("Query", "Scan", "BatchGetItem")]


def assert_from_index(proxy: FaultProxy) -> list[dict[str, Any]]:
    """Every read was a Query on an asyncdb GSI or a consistent re-read; the Queries."""
    seen = reads(proxy)
    queries = [body for op, body in seen if op == "Query"]
    assert queries, "no Query read the index"
    assert "Scan" not in [op for op, _ in seen]
    assert all(body["IndexName"].startswith("asyncdb-ix-") for body in queries)
    assert all("ConsistentRead" not in body for body in queries)  # refused on a GSI
    gets = [body for op, body in seen if op == "BatchGetItem"]
    assert all(
        table["ConsistentRead"] is True for body in gets for table in body["RequestItems"].values()
    )
    return queries


async def walk(
    db: DatabaseService,
    collection: str,
    where: dict[str, Any],
    order_by: list[str] | None,
    limit: int,
) -> list[list[str]]:
    pages: list[list[str]] = []
    cursor: str | None = None
    for _ in range(200):
        page = await db.find_page(
            collection, where, order_by=order_by, limit=limit, cursor=cursor, strict=True
        )
        pages.append([doc["_id"] for doc in page.items])
        if page.next_cursor is None:
            return pages
        cursor = page.next_cursor
    raise AssertionError("find_page did not end")


def chunks(ids: list[str], size: int) -> list[list[str]]:
    return [ids[i : i + size] for i in range(0, len(ids), size)] or [[]]


def sessions(count: int) -> list[dict[str, Any]]:
    created: list[Any] = [5, -2, 3.5, 0, 2**53 + 1, -(2**63), 1e120, None, True, "z", "B", "a"]
    docs = []
    for i in range(count):
        doc: dict[str, Any] = {"_id": f"s{i:03d}", "user_id": ["u1", "u2", "U1"][i % 3]}
        if i % 7 != 3:  # some lack the order field: they sort lowest
            doc["created"] = created[i % len(created)]
        docs.append(doc)
    return docs


async def raw_item(db: DatabaseService, collection: str, key: str) -> dict[str, Any] | None:
    driver = db.driver
    while not isinstance(driver, DynamoDBDriver):
        driver = driver.inner  # type: ignore[attr-defined]
    client = await driver._transport.client()
    table = db.driver.prefix + collection  # type: ignore[attr-defined]
    response = await client.get_item(TableName=table, Key={"_id": {"S": key}}, ConsistentRead=True)
    item: dict[str, Any] | None = response.get("Item")
    return item
