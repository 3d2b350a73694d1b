"""PATCH /v1/{collection}/{id}: JSON merge patches (RFC 7396), If-Match, errors, OpenAPI."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

MERGE = {"Content-Type": "application/merge-patch+json"}


async def _patch(
    client: httpx.AsyncClient, path: str, body: str | bytes, **headers: str
) -> httpx.Response:
    return await client.patch(path, content=body, headers={**MERGE, **headers})


async def test_a_merge_patch_sets_merges_and_removes(client: httpx.AsyncClient) -> None:
    put = await client.put("/v1/notes/n1", json={"a": "b", "c": {"d": "e", "f": "g"}, "n": 1.0})
    response = await _patch(
        client, "/v1/notes/n1", '{"a": "z", "c": {"f": null, "x": [1]}, "new": {"k": 1}}'
    )
    assert response.status_code == 200, response.text
    stored = response.json()
    assert {k: v for k, v in stored.items() if not k.startswith("_")} == {
        "a": "z",
        "c": {"d": "e", "x": [1]},
        "new": {"k": 1},
        "n": 1.0,
    }
    assert isinstance(stored["n"], float)  # a field the patch leaves keeps its type
    assert stored["_rev"] != put.json()["_rev"]
    assert response.headers["etag"] == f'"{stored["_rev"]}"'
    assert (await client.get("/v1/notes/n1")).json() == stored


async def test_an_object_replaces_a_value_that_is_not_one(client: httpx.AsyncClient) -> None:
    await client.put("/v1/notes/n1", json={"a": "text", "b": [1, 2]})
    response = await _patch(client, "/v1/notes/n1", '{"a": {"x": 1}, "b": {"y": null}}')
    assert response.status_code == 200, response.text
    assert response.json()["a"] == {"x": 1} and response.json()["b"] == {}


async def test_an_empty_patch_changes_nothing(client: httpx.AsyncClient) -> None:
    put = await client.put("/v1/notes/n1", json={"a": 1})
    response = await _patch(client, "/v1/notes/n1", "{}")
    assert response.status_code == 200 and response.json() == put.json()


async def test_if_match_makes_the_patch_conditional(client: httpx.AsyncClient) -> None:
    etag = (await client.put("/v1/notes/n1", json={"v": 1})).headers["etag"]
    first = await _patch(client, "/v1/notes/n1", '{"v": 2}', **{"If-Match": etag})
    assert first.status_code == 200 and first.json()["v"] == 2
    stale = await _patch(client, "/v1/notes/n1", '{"v": 3}', **{"If-Match": etag})
    assert stale.status_code == 412
    assert stale.json()["error"]["type"] == "PreconditionFailedError"
    listed = f'"1-other", {first.headers["etag"]}'
    second = await _patch(client, "/v1/notes/n1", '{"v": 4}', **{"If-Match": listed})
    assert second.status_code == 200 and second.json()["v"] == 4
    weak = await _patch(
        client, "/v1/notes/n1", '{"v": 5}', **{"If-Match": f"W/{second.headers['etag']}"}
    )
    assert weak.status_code == 412  # a weak tag never matches a write
    star = await _patch(client, "/v1/notes/n1", '{"v": 6}', **{"If-Match": "*"})
    assert star.status_code == 200 and star.json()["v"] == 6
    assert (await client.get("/v1/notes/n1")).json()["v"] == 6


@pytest.mark.parametrize("if_match", [None, '"1-x"', "*", '"1-x", "2-y"'])
async def test_patch_of_a_missing_document(client: httpx.AsyncClient, if_match: str | None) -> None:
    headers = {} if if_match is None else {"If-Match": if_match}
    response = await _patch(client, "/v1/notes/missing", '{"a": 1}', **headers)
    assert response.status_code == (404 if if_match is None else 412)
    assert (await client.get("/v1/notes/missing")).status_code == 404


@pytest.mark.parametrize(
    "content_type", ["application/json", "application/json-patch+json", "text/plain", None]
)
async def test_a_body_that_is_not_a_merge_patch_is_415(
    client: httpx.AsyncClient, content_type: str | None
) -> None:
    await client.put("/v1/notes/n1", json={"a": 1})
    headers = {} if content_type is None else {"Content-Type": content_type}
    response = await client.patch("/v1/notes/n1", content=b'{"a": 2}', headers=headers)
    assert response.status_code == 415
    assert response.json()["error"]["status"] == 415
    if content_type is not None and content_type.endswith("json"):  # reached the route
        assert response.headers["accept-patch"] == "application/merge-patch+json"
    assert (await client.get("/v1/notes/n1")).json()["a"] == 1


async def test_the_media_type_is_matched_without_its_parameters(client: httpx.AsyncClient) -> None:
    await client.put("/v1/notes/n1", json={"a": 1})
    response = await client.patch(
        "/v1/notes/n1",
        content=b'{"a": 2}',
        headers={"Content-Type": "Application/Merge-Patch+JSON; charset=utf-8"},
    )
    assert response.status_code == 200 and response.json()["a"] == 2


BAD_BODIES: list[tuple[bytes, int]] = [
    (b"not json", 400),
    (b'{"a": ', 400),
    (b'{"a": NaN}', 400),
    (b'{"a": Infinity}', 400),
    (b"[" * 100_000, 400),
    (b'["a"]', 422),
    (b"null", 422),
    (b'"text"', 422),
    (b'{"_rev": "1-x"}', 422),
    (b'{"_id": "n1"}', 422),
    (b'{"a": 1e400}', 422),
    (b'{"a": 99999999999999999999999}', 422),
    (b'{"a": "\\ud800"}', 422),
    (b'{"\\ud800": 1}', 422),
    (b'{"a": ' + b'{"b": ' * 40 + b"1" + b"}" * 41, 422),
]


@pytest.mark.parametrize(
    ("body", "status"), BAD_BODIES, ids=[b[:24].decode() for b, _ in BAD_BODIES]
)
async def test_a_bad_patch_is_a_client_error_and_changes_nothing(
    client: httpx.AsyncClient, body: bytes, status: int
) -> None:
    put = await client.put("/v1/notes/n1", json={"a": 1})
    response = await _patch(client, "/v1/notes/n1", body)
    assert response.status_code == status, response.text
    assert response.json()["error"]["status"] == status
    assert (await client.get("/v1/notes/n1")).json() == put.json()


async def test_a_patch_that_would_outgrow_the_size_limit_is_413(client: httpx.AsyncClient) -> None:
    put = await client.put("/v1/notes/n1", json={"a": "x" * 300_000})
    response = await _patch(client, "/v1/notes/n1", '{"b": "' + "y" * 200_000 + '"}')
    assert response.status_code == 413
    assert (await client.get("/v1/notes/n1")).json() == put.json()


async def test_concurrent_patches_lose_nothing(client: httpx.AsyncClient) -> None:
    await client.put("/v1/notes/n1", json={"by": {}})
    responses = await asyncio.gather(
        *(_patch(client, "/v1/notes/n1", f'{{"by": {{"w{i}": {i}}}}}') for i in range(20))
    )
    assert [r.status_code for r in responses] == [200] * 20
    stored = (await client.get("/v1/notes/n1")).json()
    assert stored["by"] == {f"w{i}": i for i in range(20)}


async def test_schema_collections_validate_the_patched_document(
    schema_client: httpx.AsyncClient,
) -> None:
    created = await schema_client.put("/v1/agents/a-1", json={"name": "n"})
    assert created.status_code == 200, created.text
    bad = await _patch(schema_client, "/v1/agents/a-1", '{"tools": "not a map"}')
    assert bad.status_code == 422
    assert bad.json()["error"]["type"] == "ModelValidationError"
    removed = await _patch(schema_client, "/v1/agents/a-1", '{"name": null}')
    assert removed.status_code == 422  # the model requires a name
    assert (await schema_client.get("/v1/agents/a-1")).json() == created.json()
    good = await _patch(schema_client, "/v1/agents/a-1", '{"name": "renamed"}')
    assert good.status_code == 200, good.text
    assert good.json()["name"] == "renamed"
    assert good.json()["created_at"] == created.json()["created_at"]


async def test_openapi_describes_the_patch_route(client: httpx.AsyncClient) -> None:
    schema: dict[str, Any] = (await client.get("/openapi.json")).json()
    operation = schema["paths"]["/v1/{collection}/{doc_id}"]["patch"]
    assert list(operation["requestBody"]["content"]) == ["application/merge-patch+json"]
    assert operation["requestBody"]["required"] is True
    assert {"200", "400", "404", "409", "412", "413", "415", "422"} <= set(operation["responses"])
    assert any(p["name"].lower() == "if-match" for p in operation["parameters"])


async def test_cors_allows_patch(make_app: Any) -> None:
    app = make_app(cors_origins=["https://app.example"])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as http:
        response = await http.options(
            "/v1/notes/n1",
            headers={
                "Origin": "https://app.example",
                "Access-Control-Request-Method": "PATCH",
            },
        )
    assert response.status_code == 200
    assert "PATCH" in response.headers["access-control-allow-methods"]
