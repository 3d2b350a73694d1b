"""GET/PUT/DELETE /v1/{collection}/{id}: ETags, conditions, errors."""

from __future__ import annotations

from urllib.parse import quote

import httpx
import pytest

from asyncdb.server._conditions import etag_of


async def test_put_then_get_carries_the_revision_as_etag(client: httpx.AsyncClient) -> None:
    put = await client.put("/v1/notes/n1", json={"text": "hi"})
    assert put.status_code == 200
    stored = put.json()
    assert stored["_id"] == "n1" and stored["text"] == "hi"
    assert put.headers["etag"] == f'"{stored["_rev"]}"'
    got = await client.get("/v1/notes/n1")
    assert got.status_code == 200
    assert got.json() == stored
    assert got.headers["etag"] == put.headers["etag"]


async def test_get_missing_is_404_json(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/notes/nope")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert error["status"] == 404 and error["type"] == "NotFoundError"


async def test_get_with_matching_if_none_match_is_304(client: httpx.AsyncClient) -> None:
    etag = (await client.put("/v1/notes/n1", json={"a": 1})).headers["etag"]
    response = await client.get("/v1/notes/n1", headers={"If-None-Match": etag})
    assert response.status_code == 304 and response.headers["etag"] == etag
    other = await client.get("/v1/notes/n1", headers={"If-None-Match": '"0-other"'})
    assert other.status_code == 200


async def test_if_match_makes_a_write_conditional(client: httpx.AsyncClient) -> None:
    first = await client.put("/v1/notes/n1", json={"v": 1})
    etag = first.headers["etag"]
    second = await client.put("/v1/notes/n1", json={"v": 2}, headers={"If-Match": etag})
    assert second.status_code == 200 and second.json()["v"] == 2
    stale = await client.put("/v1/notes/n1", json={"v": 3}, headers={"If-Match": etag})
    assert stale.status_code == 412
    assert stale.json()["error"]["type"] == "PreconditionFailedError"
    assert (await client.get("/v1/notes/n1")).json()["v"] == 2


async def test_if_match_accepts_an_unquoted_revision(client: httpx.AsyncClient) -> None:
    rev = (await client.put("/v1/notes/n1", json={"v": 1})).json()["_rev"]
    response = await client.put("/v1/notes/n1", json={"v": 2}, headers={"If-Match": rev})
    assert response.status_code == 200


async def test_if_match_on_a_missing_document_is_412(client: httpx.AsyncClient) -> None:
    response = await client.put("/v1/notes/n1", json={"v": 1}, headers={"If-Match": '"1-x"'})
    assert response.status_code == 412
    star = await client.put("/v1/notes/n1", json={"v": 1}, headers={"If-Match": "*"})
    assert star.status_code == 412


async def test_if_match_star_and_lists(client: httpx.AsyncClient) -> None:
    etag = (await client.put("/v1/notes/n1", json={"v": 1})).headers["etag"]
    star = await client.put("/v1/notes/n1", json={"v": 2}, headers={"If-Match": "*"})
    assert star.status_code == 200
    current = star.headers["etag"]
    listed = await client.put(
        "/v1/notes/n1", json={"v": 3}, headers={"If-Match": f'"0-nope", {current}'}
    )
    assert listed.status_code == 200
    missed = await client.put(
        "/v1/notes/n1", json={"v": 4}, headers={"If-Match": f'"0-nope", {etag}'}
    )
    assert missed.status_code == 412
    weak = await client.put("/v1/notes/n1", json={"v": 4}, headers={"If-Match": f"W/{current}"})
    assert weak.status_code == 412  # strong comparison: a weak tag never matches


async def test_if_none_match_star_creates_only_if_absent(client: httpx.AsyncClient) -> None:
    created = await client.put(
        "/v1/deployments/summariser", json={"agentId": "a-1"}, headers={"If-None-Match": "*"}
    )
    assert created.status_code == 201
    assert created.headers["location"] == "/v1/deployments/summariser"
    taken = await client.put(
        "/v1/deployments/summariser", json={"agentId": "a-2"}, headers={"If-None-Match": "*"}
    )
    assert taken.status_code == 412
    assert (await client.get("/v1/deployments/summariser")).json()["agentId"] == "a-1"


async def test_if_none_match_with_an_etag(client: httpx.AsyncClient) -> None:
    etag = (await client.put("/v1/notes/n1", json={"v": 1})).headers["etag"]
    refused = await client.put("/v1/notes/n1", json={"v": 2}, headers={"If-None-Match": etag})
    assert refused.status_code == 412
    allowed = await client.put("/v1/notes/n2", json={"v": 2}, headers={"If-None-Match": etag})
    assert allowed.status_code == 201


async def test_stale_rev_in_the_body_is_409(client: httpx.AsyncClient) -> None:
    first = (await client.put("/v1/notes/n1", json={"v": 1})).json()
    await client.put("/v1/notes/n1", json={"v": 2})
    response = await client.put("/v1/notes/n1", json={**first, "v": 3})
    assert response.status_code == 409
    assert response.json()["error"]["type"] == "ConflictError"


async def test_body_rev_and_if_match_must_agree(client: httpx.AsyncClient) -> None:
    stored = (await client.put("/v1/notes/n1", json={"v": 1})).json()
    response = await client.put(
        "/v1/notes/n1",
        json={**stored, "_rev": "9-other"},
        headers={"If-Match": f'"{stored["_rev"]}"'},
    )
    assert response.status_code == 400


@pytest.mark.parametrize("header", ['"unterminated', '"a" "b"', "a, b", '"a",,'])
async def test_malformed_conditions_are_400(client: httpx.AsyncClient, header: str) -> None:
    response = await client.put("/v1/notes/n1", json={}, headers={"If-Match": header})
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "BadConditionError"


async def test_delete_and_conditional_delete(client: httpx.AsyncClient) -> None:
    etag = (await client.put("/v1/notes/n1", json={"v": 1})).headers["etag"]
    await client.put("/v1/notes/n1", json={"v": 2})
    stale = await client.delete("/v1/notes/n1", headers={"If-Match": etag})
    assert stale.status_code == 412
    current = (await client.get("/v1/notes/n1")).headers["etag"]
    deleted = await client.delete("/v1/notes/n1", headers={"If-Match": current})
    assert deleted.status_code == 200 and deleted.json() == {"id": "n1", "deleted": True}
    again = await client.delete("/v1/notes/n1")
    assert again.json() == {"id": "n1", "deleted": False}
    conditional_missing = await client.delete("/v1/notes/n1", headers={"If-Match": current})
    assert conditional_missing.status_code == 412
    star_missing = await client.delete("/v1/notes/n1", headers={"If-Match": "*"})
    assert star_missing.status_code == 412


async def test_delete_if_match_star(client: httpx.AsyncClient) -> None:
    await client.put("/v1/notes/n1", json={"v": 1})
    response = await client.delete("/v1/notes/n1", headers={"If-Match": "*"})
    assert response.json()["deleted"] is True


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/v1/Notes/n1", 422),  # upper case collection name
        ("/v1/ab/n1", 422),  # too short
        ("/v1/notes/a%01b", 422),  # control character
        ("/v1/notes/" + "x" * 4097, 422),  # over 4,096 bytes
    ],
)
async def test_invalid_names_are_422(client: httpx.AsyncClient, path: str, status: int) -> None:
    response = await client.put(path, json={"v": 1})
    assert response.status_code == status, response.text
    assert response.json()["error"]["status"] == status


@pytest.mark.parametrize(
    "body",
    [{"_private": 1}, {"n": 2**70}, {"_id": "other"}],
)
async def test_contract_violations_are_422(client: httpx.AsyncClient, body: object) -> None:
    response = await client.put("/v1/notes/n1", json=body)
    assert response.status_code == 422
    assert response.json()["error"]["type"] == "InvalidDocumentError"


async def test_a_body_that_is_not_an_object_is_422(client: httpx.AsyncClient) -> None:
    response = await client.put("/v1/notes/n1", json=[1, 2])
    assert response.status_code == 422
    assert response.json()["error"]["type"] == "RequestValidationError"
    broken = await client.put(
        "/v1/notes/n1", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert broken.status_code == 422


async def test_document_over_the_contract_limit_is_413(client: httpx.AsyncClient) -> None:
    response = await client.put("/v1/notes/n1", json={"blob": "x" * 500_000})
    assert response.status_code == 413
    assert response.json()["error"]["type"] == "DocumentTooLargeError"


async def test_ids_with_odd_characters_round_trip(client: httpx.AsyncClient) -> None:
    doc_id = "a b?c#d&e%2F:ü"
    path = "/v1/notes/" + quote(doc_id, safe="")
    put = await client.put(path, json={"v": 1})
    assert put.status_code == 200, put.text
    assert put.json()["_id"] == doc_id
    assert (await client.get(path)).json()["_id"] == doc_id


def test_etags_of_unusual_revisions_round_trip() -> None:
    from asyncdb.server._conditions import parse_condition

    for rev in ["1-abc", 'with"quote', "~tilde", "a\\b", "0", "x" * 256]:
        tag = etag_of(rev)
        assert tag.startswith('"') and tag.endswith('"')
        condition = parse_condition(tag, "If-Match")
        assert condition is not None and condition.matches(rev)
