"""Pages, bulk calls, find, health; schema validation is in test_schemas.py."""

from __future__ import annotations

import httpx
import pytest

from asyncdb import BackendUnavailableError, DatabaseService


async def test_pages_walk_every_document_once(client: httpx.AsyncClient) -> None:
    for index in range(7):
        await client.put(f"/v1/notes/n{index}", json={"i": index})
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, str | int] = {"limit": 3}
        if cursor is not None:
            params["cursor"] = cursor
        page = (await client.get("/v1/notes", params=params)).json()
        seen += [item["_id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == [f"n{index}" for index in range(7)]


async def test_an_empty_collection_is_an_empty_page(client: httpx.AsyncClient) -> None:
    assert (await client.get("/v1/nothing")).json() == {"items": [], "next_cursor": None}


async def test_a_forged_cursor_is_400(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/notes", params={"cursor": "forged"})
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "InvalidCursorError"


@pytest.mark.parametrize("limit", [0, 1001, "x"])
async def test_a_bad_limit_is_422(client: httpx.AsyncClient, limit: int | str) -> None:
    response = await client.get("/v1/notes", params={"limit": limit})
    assert response.status_code == 422


async def test_bulk_get(client: httpx.AsyncClient) -> None:
    await client.put("/v1/notes/a1", json={"v": 1})
    response = await client.post("/v1/notes/_bulk_get", json={"ids": ["a1", "missing"]})
    assert response.status_code == 200
    documents = response.json()["documents"]
    assert documents["a1"]["v"] == 1 and documents["missing"] is None
    bad = await client.post("/v1/notes/_bulk_get", json={"ids": ["a\x01b"]})
    assert bad.status_code == 422


async def test_bulk_save_reports_each_document(client: httpx.AsyncClient) -> None:
    stale = (await client.put("/v1/notes/c1", json={"v": 1})).json()
    await client.put("/v1/notes/c1", json={"v": 2})
    response = await client.post(
        "/v1/notes/_bulk_save",
        json={"documents": [{"_id": "b1", "v": 1}, {"_id": "a\x01b"}, stale, {"v": "no id"}]},
    )
    assert response.status_code == 200
    results = response.json()["results"]
    assert [result["ok"] for result in results] == [True, False, False, False]
    assert results[0]["rev"] and results[0]["id"] == "b1"
    assert results[1]["error"]["status"] == 422
    assert results[2]["error"]["status"] == 409
    assert results[3]["error"]["status"] == 422 and results[3]["id"] == ""
    assert results[3]["error"]["message"] == "each document needs an _id (a string)"
    assert (await client.get("/v1/notes/b1")).status_code == 200


async def test_bulk_delete(client: httpx.AsyncClient) -> None:
    first = (await client.put("/v1/notes/d1", json={"v": 1})).json()
    await client.put("/v1/notes/d1", json={"v": 2})
    await client.put("/v1/notes/d2", json={"v": 1})
    response = await client.post(
        "/v1/notes/_bulk_delete", json={"ids": ["d2", "gone", {"_id": "d1", "_rev": first["_rev"]}]}
    )
    results = response.json()["results"]
    assert [result["ok"] for result in results] == [True, True, False]
    assert results[2]["error"]["status"] == 409


async def test_find(client: httpx.AsyncClient) -> None:
    for index in range(5):
        await client.put(f"/v1/items/i{index}", json={"kind": "odd" if index % 2 else "even"})
    response = await client.post(
        "/v1/items/_find", json={"where": {"kind": "even"}, "fields": ["kind"], "limit": 2}
    )
    items = response.json()["items"]
    assert len(items) == 2 and all(item["kind"] == "even" for item in items)
    bad = await client.post("/v1/items/_find", json={"where": {"kind": {"$regex": "x"}}})
    assert bad.status_code == 422


async def test_healthz(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.json() == {"status": "ok", "provider": "memory"}


async def test_healthz_is_503_when_the_backend_fails(
    client: httpx.AsyncClient, service: DatabaseService, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def down() -> None:
        raise BackendUnavailableError("couchdb at http://admin:hunter2@db:5984 timed out")

    monkeypatch.setattr(service.driver, "ping", down)
    response = await client.get("/healthz")
    assert response.status_code == 503
    assert "hunter2" not in response.text and "db:5984" not in response.text


async def test_backend_failures_are_503_without_detail(
    client: httpx.AsyncClient, service: DatabaseService, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def down(*args: object, **kwargs: object) -> None:
        raise BackendUnavailableError("couchdb at http://admin:hunter2@db:5984 timed out")

    monkeypatch.setattr(service.driver, "get", down)
    response = await client.get("/v1/notes/n1")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert "hunter2" not in response.text and "5984" not in response.text


async def test_unexpected_driver_errors_are_500_without_detail(
    client: httpx.AsyncClient, service: DatabaseService, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(service.driver, "get", broken)
    response = await client.get("/v1/notes/n1")
    assert response.status_code == 500
    assert "secret internals" not in response.text
    assert response.json()["error"]["type"] == "BackendError"


async def test_unknown_routes_and_methods_are_json(client: httpx.AsyncClient) -> None:
    missing = await client.get("/nowhere")
    assert missing.status_code == 404
    assert missing.json()["error"] == {
        "status": 404,
        "type": "HTTPError",
        "message": "no route answers GET /nowhere",
    }
    wrong = await client.post("/v1/notes/n1", json={})
    assert wrong.status_code == 405 and wrong.json()["error"]["status"] == 405


async def test_405_lists_the_methods_of_every_route_on_the_path(
    client: httpx.AsyncClient,
) -> None:
    wrong = await client.post("/v1/notes/n1", json={})
    assert wrong.headers["allow"] == "DELETE, GET, HEAD, PATCH, PUT"
    on_find = await client.get("/v1/notes/_find/x")  # an id with '/': a document read
    assert on_find.status_code == 404 and on_find.json()["error"]["type"] == "NotFoundError"
    listing = await client.delete("/v1/notes")
    assert listing.status_code == 405 and listing.headers["allow"] == "GET"


async def test_openapi_is_served(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    assert "/v1/{collection}/{doc_id}" in schema["paths"]
    assert set(schema["paths"]["/v1/{collection}/{doc_id}"]) == {
        "get",
        "head",
        "put",
        "patch",
        "delete",
    }
    assert "/v1/{collection}/_find" in schema["paths"]
    assert (await client.get("/docs")).status_code == 200
