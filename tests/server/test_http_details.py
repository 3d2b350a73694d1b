"""HTTP details: ids with '/', HEAD, 415 for non-JSON bodies, 400 for a path that is not
UTF-8 and for malformed entity tags, 422 (never 500) for ids that are not Unicode."""

from __future__ import annotations

import json

import httpx
import pytest

from asyncdb import DatabaseService


@pytest.mark.parametrize("doc_id", ["a/b", "a/b/c", "_design/x", "/lead", "trail/", "_find"])
async def test_ids_with_a_slash_work_percent_encoded(
    client: httpx.AsyncClient, doc_id: str
) -> None:
    from urllib.parse import quote

    path = "/v1/notes/" + quote(doc_id, safe="")
    put = await client.put(path, json={"v": 1})
    assert put.status_code == 200, put.text
    assert put.json()["_id"] == doc_id
    got = await client.get(path)
    assert got.status_code == 200 and got.json()["_id"] == doc_id
    page = (await client.get("/v1/notes")).json()
    assert [item["_id"] for item in page["items"]] == [doc_id]
    assert (await client.delete(path)).json() == {"id": doc_id, "deleted": True}


async def test_a_created_id_with_a_slash_has_an_encoded_location(
    client: httpx.AsyncClient,
) -> None:
    put = await client.put("/v1/notes/a%2Fb", json={"v": 1}, headers={"If-None-Match": "*"})
    assert put.status_code == 201 and put.headers["location"] == "/v1/notes/a%2Fb"


async def test_head_answers_the_headers_of_get(client: httpx.AsyncClient) -> None:
    put = await client.put("/v1/notes/n1", json={"text": "hello"})
    head = await client.head("/v1/notes/n1")
    get = await client.get("/v1/notes/n1")
    assert head.status_code == 200 and head.content == b""
    assert head.headers["etag"] == put.headers["etag"] == get.headers["etag"]
    assert head.headers["content-length"] == str(len(get.content))
    missing = await client.head("/v1/notes/nope")
    assert missing.status_code == 404 and missing.content == b""
    unchanged = await client.head("/v1/notes/n1", headers={"If-None-Match": put.headers["etag"]})
    assert unchanged.status_code == 304


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", "/v1/notes/n1"),
        ("POST", "/v1/notes/_bulk_get"),
        ("POST", "/v1/notes/_bulk_save"),
        ("POST", "/v1/notes/_bulk_delete"),
        ("POST", "/v1/notes/_find"),
    ],
)
@pytest.mark.parametrize(
    "content_type", [None, "application/x-www-form-urlencoded", "text/plain", "text/json"]
)
async def test_a_body_not_sent_as_json_is_415(
    client: httpx.AsyncClient, method: str, path: str, content_type: str | None
) -> None:
    headers = {} if content_type is None else {"Content-Type": content_type}
    response = await client.request(method, path, content=b'{"v": 1}', headers=headers)
    assert response.status_code == 415
    assert response.json()["error"]["type"] == "UnsupportedMediaType"
    assert (await client.get("/v1/notes/n1")).status_code == 404


@pytest.mark.parametrize(
    "content_type", ["application/json", "application/json; charset=utf-8", "application/x+json"]
)
async def test_json_media_types_are_accepted(client: httpx.AsyncClient, content_type: str) -> None:
    response = await client.put(
        "/v1/notes/n1", content=b'{"v": 1}', headers={"Content-Type": content_type}
    )
    assert response.status_code == 200


@pytest.mark.parametrize("raw", ["%FF", "%ED%A0%80", "a%C3", "%C0%AF"])
async def test_a_path_that_is_not_utf8_is_400(client: httpx.AsyncClient, raw: str) -> None:
    response = await client.put(f"/v1/things/{raw}", json={"v": 1})
    assert response.status_code == 400
    assert "not valid UTF-8" in response.json()["error"]["message"]
    assert (await client.get("/v1/things")).json()["items"] == []


async def test_two_invalid_paths_do_not_alias_one_document(client: httpx.AsyncClient) -> None:
    await client.put("/v1/things/%FF", json={"v": 1})
    response = await client.get("/v1/things/%FE")
    assert response.status_code == 400
    assert (await client.get("/v1/things/\ufffd")).status_code == 404


@pytest.mark.parametrize(
    "header",
    ['"~!!!"', '"~"', '"~AAA="', "~!!!", '""', '"' + "x" * 257 + '"', '"1-a", "~%%"'],
)
@pytest.mark.parametrize("method", ["PUT", "DELETE"])
async def test_a_malformed_entity_tag_is_400(
    client: httpx.AsyncClient, header: str, method: str
) -> None:
    await client.put("/v1/notes/n1", json={"v": 1})
    kwargs = {"json": {"v": 2}} if method == "PUT" else {}
    response = await client.request(method, "/v1/notes/n1", headers={"If-Match": header}, **kwargs)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["type"] == "BadConditionError"
    assert (await client.get("/v1/notes/n1")).json()["v"] == 1


async def test_a_well_formed_stale_entity_tag_is_still_412(client: httpx.AsyncClient) -> None:
    await client.put("/v1/notes/n1", json={"v": 1})
    response = await client.put("/v1/notes/n1", json={"v": 2}, headers={"If-Match": '"9-zz"'})
    assert response.status_code == 412


JSON = "application/json"


def _raw_json(text: str) -> bytes:
    # json.dumps escapes a lone surrogate as \\udXXX: what a client may send.
    return text.encode("ascii")


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("_bulk_save", '{"documents": [{"_id": "\\ud800", "v": 1}]}'),
        ("_bulk_save", '{"documents": [{"_id": "ok", "_rev": "\\udfff"}]}'),
        ("_bulk_delete", '{"ids": ["\\ud800"]}'),
        ("_bulk_delete", '{"ids": [{"_id": "\\udbff"}]}'),
        ("_bulk_get", '{"ids": ["\\ud800"]}'),
    ],
)
async def test_a_lone_surrogate_id_in_a_bulk_call_is_422(
    client: httpx.AsyncClient, path: str, body: str
) -> None:
    response = await client.post(
        f"/v1/notes/{path}", content=_raw_json(body), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["type"] == "RequestValidationError"
    assert "lone surrogate" in json.dumps(error["details"])
    assert (await client.get("/v1/notes")).json()["items"] == []


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("_find", {"wher": {"a": 1}}),
        ("_find", {"where": {}, "limt": 1}),
        ("_bulk_get", {"ids": [], "extra": 1}),
        ("_bulk_save", {"documents": [], "docs": []}),
        ("_bulk_delete", {"ids": [], "rev": "1"}),
    ],
)
async def test_unknown_keys_in_a_request_body_are_422(
    client: httpx.AsyncClient, path: str, body: dict[str, object]
) -> None:
    await client.put("/v1/notes/n1", json={"a": 1})
    response = await client.post(f"/v1/notes/{path}", json=body)
    assert response.status_code == 422
    details = response.json()["error"]["details"]
    assert details[0]["type"] == "extra_forbidden"


async def test_a_bad_collection_name_gets_the_contract_message(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/Agents/a-1")
    assert response.status_code == 422
    assert response.json()["error"] == {
        "status": 422,
        "type": "InvalidNameError",
        "message": "invalid collection name 'Agents': use 3 to 64 characters a-z, 0-9, '_' or "
        "'-', starting with a letter",
    }


async def test_a_lone_surrogate_id_never_reaches_the_driver(
    client: httpx.AsyncClient, service: DatabaseService, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Refused before any I/O, so the answer is the same 422 on every backend.
    async def no_io(*args: object, **kwargs: object) -> None:
        raise AssertionError("the driver was called")

    for name in ("get", "put", "delete", "get_many", "put_many", "delete_many", "scan"):
        monkeypatch.setattr(service.driver, name, no_io)
    for path, body in [
        ("_bulk_save", '{"documents": [{"_id": "ok"}, {"_id": "\\ud800"}]}'),
        ("_bulk_delete", '{"ids": ["ok", "\\ud800"]}'),
    ]:
        response = await client.post(
            f"/v1/notes/{path}",
            content=_raw_json(body),
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code == 422, response.text
