"""``POST /v1/{collection}/_find``: operators, dotted paths, ``order_by``, pages through
``limit``/``cursor``; bad input is a 400 or 422, never a 500."""

from __future__ import annotations

from typing import Any

import httpx
import pytest


async def _fill(client: httpx.AsyncClient) -> None:
    for index in range(7):
        body = {"n": index % 3, "owner": {"id": f"u{index % 2}"}, "name": f"N{index}"}
        assert (await client.put(f"/v1/items/i{index}", json=body)).status_code in (200, 201)


async def test_find_orders_filters_and_projects(client: httpx.AsyncClient) -> None:
    await _fill(client)
    response = await client.post(
        "/v1/items/_find",
        json={"where": {"owner.id": "u0", "n": {"$gte": 1}}, "order_by": ["-n"], "fields": ["n"]},
    )
    assert response.status_code == 200
    body = response.json()
    assert [item["_id"] for item in body["items"]] == ["i2", "i4"]
    assert body["items"][0] == {"_id": "i2", "_rev": body["items"][0]["_rev"], "n": 2}
    assert body["next_cursor"] is None


async def test_find_pages_with_limit_and_cursor(client: httpx.AsyncClient) -> None:
    await _fill(client)
    query: dict[str, Any] = {"where": {"n": {"$lt": 2}}, "order_by": ["n", "name"]}
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(10):
        response = await client.post(
            "/v1/items/_find", json={**query, "limit": 2, "cursor": cursor, "fields": ["name"]}
        )
        assert response.status_code == 200, response.text
        body = response.json()
        seen.extend(item["_id"] for item in body["items"])
        assert all(set(item) == {"_id", "_rev", "name"} for item in body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == ["i0", "i3", "i6", "i1", "i4"]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"where": {}, "cursor": "forged"}, 400),
        ({"where": {"n": {"$gt": None}}}, 422),
        ({"where": {"n": {"$gt": 1, "$lt": "a"}}}, 422),
        ({"where": {"a..b": 1}}, 422),
        ({"where": {}, "order_by": "n"}, 422),
        ({"where": {}, "order_by": ["_id"]}, 422),
        ({"where": {}, "order_by": [1]}, 422),
        ({"where": {}, "limit": 0}, 422),
        ({"where": {}, "limit": 1001}, 422),
        ({"where": {}, "limit": 2, "fields": ["_rev"]}, 422),
        ({"where": {"n": {"$gt": 0}}, "strict": [1]}, 422),
        ({"where": {}, "limit": 2, "cursor": 7}, 422),
    ],
    ids=repr,
)
async def test_bad_find_requests_are_refused(
    client: httpx.AsyncClient, body: dict[str, Any], status: int
) -> None:
    response = await client.post("/v1/items/_find", json=body)
    assert response.status_code == status, response.text


async def test_a_cursor_of_another_query_is_a_400(client: httpx.AsyncClient) -> None:
    await _fill(client)
    first = await client.post("/v1/items/_find", json={"where": {}, "order_by": ["n"], "limit": 2})
    cursor = first.json()["next_cursor"]
    assert cursor is not None
    other = await client.post(
        "/v1/items/_find", json={"where": {}, "order_by": ["-n"], "limit": 2, "cursor": cursor}
    )
    assert other.status_code == 400
    assert other.json()["error"]["type"] == "InvalidCursorError"


async def test_openapi_describes_the_query_parameters(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    find_in = schema["components"]["schemas"]["FindIn"]["properties"]
    assert {"where", "fields", "order_by", "limit", "cursor", "strict"} <= set(find_in)
    assert find_in["limit"]["anyOf"][0]["maximum"] == 1000
    assert "next_cursor" in schema["components"]["schemas"]["FindOut"]["properties"]
    assert "400" in schema["paths"]["/v1/{collection}/_find"]["post"]["responses"]
