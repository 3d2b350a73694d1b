"""Schema validation is opt-in: the generic API takes any document; with a schema set the
named collections are validated, keep what listings withhold and what the body omits
(secrets, the creation time), and stamp the update time."""

from __future__ import annotations

import asyncio
from types import MappingProxyType
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from asyncdb.models import DocumentModel
from asyncdb.schemas import SCHEMA_MODELS
from asyncdb.server import ServerConfig

USER = {
    "basic_info": {"display_name": "Ada", "email": "ada@example.org", "provider": "google"},
    "api_keys": {"openai_api_key": "sk-secret-value"},
}


# -- the generic API ---------------------------------------------------------------------------
async def test_without_schemas_every_collection_takes_any_document(
    client: httpx.AsyncClient,
) -> None:
    user = await client.put("/v1/users/u1", json={"name": "bob"})
    assert user.status_code == 200, user.text
    agent = await client.put("/v1/agents/a-1", json={"name": "summariser"})
    assert set(agent.json()) == {"_id", "_rev", "name"}


async def test_without_schemas_listings_withhold_nothing(client: httpx.AsyncClient) -> None:
    await client.put("/v1/users/u1", json=USER)
    page = (await client.get("/v1/users")).json()
    assert page["items"][0]["api_keys"] == USER["api_keys"]


# -- a schema set -----------------------------------------------------------------------------
async def test_schema_collections_are_validated_with_field_errors(
    schema_client: httpx.AsyncClient,
) -> None:
    response = await schema_client.put("/v1/agents/a-1", json={"tools": "not a map"})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["type"] == "ModelValidationError"
    locations = {tuple(detail["loc"]) for detail in error["details"]}
    assert ("name",) in locations and ("tools",) in locations
    assert all("input" not in detail for detail in error["details"])
    other = await schema_client.put("/v1/my-things/x", json={"tools": "anything"})
    assert other.status_code == 200


async def test_schema_collections_are_normalised(schema_client: httpx.AsyncClient) -> None:
    response = await schema_client.put(
        "/v1/agents/a-1", json={"name": "n", "created_at": "2026-01-01T10:00:00+02:00"}
    )
    stored = response.json()
    assert stored["created_at"] == "2026-01-01T08:00:00+00:00"
    assert stored["tools"] == {} and "updated_at" in stored


async def test_bulk_save_validates_schema_collections(schema_client: httpx.AsyncClient) -> None:
    response = await schema_client.post(
        "/v1/deployments/_bulk_save",
        json={"documents": [{"_id": "ok", "agentId": "a-1"}, {"_id": "bad"}]},
    )
    results = response.json()["results"]
    assert results[0]["ok"] is True
    assert results[1]["error"]["type"] == "ModelValidationError"
    assert results[1]["error"]["details"][0]["loc"] == ["agentId"]


async def test_api_keys_stay_out_of_listings_unless_asked(
    schema_client: httpx.AsyncClient,
) -> None:
    stored = await schema_client.put("/v1/users/user_google_1", json=USER)
    assert stored.status_code == 200, stored.text
    single = (await schema_client.get("/v1/users/user_google_1")).json()
    assert single["api_keys"]["openai_api_key"] == "sk-secret-value"
    page = (await schema_client.get("/v1/users")).text
    assert "api_keys" not in page and "sk-secret" not in page
    found = (await schema_client.post("/v1/users/_find", json={"where": {}})).text
    assert "sk-secret" not in found
    asked = (await schema_client.get("/v1/users", params={"include_secrets": "true"})).json()
    assert asked["items"][0]["api_keys"]["openai_api_key"] == "sk-secret-value"


async def test_a_listed_user_written_back_keeps_its_api_keys(
    schema_client: httpx.AsyncClient,
) -> None:
    await schema_client.put("/v1/users/u1", json=USER)
    listed = (await schema_client.get("/v1/users")).json()["items"][0]
    assert "api_keys" not in listed
    back = await schema_client.put("/v1/users/u1", json={**listed, "billing_info": {"plan": "pro"}})
    assert back.status_code == 200, back.text
    stored = (await schema_client.get("/v1/users/u1")).json()
    assert stored["api_keys"]["openai_api_key"] == "sk-secret-value"
    assert stored["billing_info"]["plan"] == "pro"
    # The same through _bulk_save, from a _find listing.
    found = (await schema_client.post("/v1/users/_find", json={"where": {}})).json()["items"]
    saved = await schema_client.post("/v1/users/_bulk_save", json={"documents": found})
    assert saved.json()["results"][0]["ok"] is True
    stored = (await schema_client.get("/v1/users/u1")).json()
    assert stored["api_keys"]["openai_api_key"] == "sk-secret-value"


async def test_an_explicit_null_erases_the_api_keys(schema_client: httpx.AsyncClient) -> None:
    await schema_client.put("/v1/users/u1", json=USER)
    erased = await schema_client.put("/v1/users/u1", json={**USER, "api_keys": None})
    assert erased.json()["api_keys"] is None


async def test_a_conditional_put_keeps_created_at_and_moves_updated_at(
    schema_client: httpx.AsyncClient,
) -> None:
    created = await schema_client.put(
        "/v1/agents/a-1", json={"name": "summariser"}, headers={"If-None-Match": "*"}
    )
    assert created.status_code == 201
    first = created.json()
    await asyncio.sleep(0.01)
    updated = await schema_client.put(
        "/v1/agents/a-1",
        json={"name": "summariser v2"},
        headers={"If-Match": created.headers["etag"]},
    )
    assert updated.status_code == 200, updated.text
    second = updated.json()
    assert second["created_at"] == first["created_at"]
    assert second["updated_at"] > first["updated_at"]


async def test_bulk_save_generates_ids_where_the_model_has_a_factory(
    schema_client: httpx.AsyncClient,
) -> None:
    response = await schema_client.post(
        "/v1/agents/_bulk_save", json={"documents": [{"name": "a"}, {"name": "b"}]}
    )
    results = response.json()["results"]
    assert all(result["ok"] for result in results), results
    ids = [result["id"] for result in results]
    assert len(set(ids)) == 2 and all(len(doc_id) == 36 for doc_id in ids)
    without_factory = await schema_client.post(
        "/v1/deployments/_bulk_save", json={"documents": [{"agentId": "a"}]}
    )
    error = without_factory.json()["results"][0]["error"]
    assert error["status"] == 422 and error["message"] == "each document needs an _id (a string)"


# -- configuring the set -----------------------------------------------------------------------
def test_schemas_are_named_as_module_and_attribute() -> None:
    config = ServerConfig(schemas="asyncdb.schemas:SCHEMA_MODELS")
    assert config.schemas == dict(SCHEMA_MODELS)


def test_schemas_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASYNCDB_SCHEMAS", "asyncdb.schemas:SCHEMA_MODELS")
    assert set(ServerConfig().schemas or {}) == set(SCHEMA_MODELS)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("asyncdb.schemas", "schemas must be MODULE:ATTR"),
        ("asyncdb.nowhere:X", "cannot import 'asyncdb.nowhere'"),
        ("asyncdb.schemas:NOPE", "'asyncdb.schemas' has no 'NOPE'"),
        ("asyncdb.schemas:Agent", "not a mapping"),
    ],
)
def test_a_bad_schema_spec_is_refused(spec: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ServerConfig(schemas=spec)


@pytest.mark.parametrize(
    ("schemas", "message"),
    [
        ({"Bad Name": DocumentModel}, "invalid collection name"),
        ({"things": dict}, "subclass of DocumentModel"),
    ],
)
def test_a_bad_schema_mapping_is_refused(schemas: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ServerConfig(schemas=MappingProxyType(schemas))
