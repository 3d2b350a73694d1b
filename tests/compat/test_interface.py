"""The original service's interface, as ``asyncdb.compat`` offers it, on every backend:
get with ``_id``, 404 when missing, upsert, a silent delete, ``[]`` for a missing
collection, and the documents the original application writes."""

from __future__ import annotations

import base64
import copy
from decimal import Decimal
from typing import Any

import pytest
from fastapi import HTTPException

from asyncdb import ConflictError, NotFoundError
from asyncdb.compat import DatabaseService

AGENT_ID = "3f1c9a52-7d44-4b8e-9a0f-2c6d1e5b7a10"


def agent_dump() -> dict[str, Any]:
    """What the original's ``Agent.model_dump(by_alias=True)`` writes for a new agent."""
    return {
        "_id": AGENT_ID,
        "_rev": None,
        "name": "summariser",
        "description": "Summarises a web page",
        "code": "async def run(input_dict, tools):\n    return {'summary': '...'}\n",
        "friendly_name": "summariser",
        "tools": {"web": ["search", "fetch"]},
        "input_schema": {"url": "string"},
        "output_schema": {"summary": "string"},
        "gofannon_agents": [],
        "created_at": "2026-11-30T09:15:02.123456Z",
        "updated_at": "2026-11-30T09:15:02.123456Z",
    }


def user_dump() -> dict[str, Any]:
    return {
        "_id": "user_google_108234",
        "_rev": None,
        "basic_info": {
            "display_name": "Ada",
            "email": "ada@example.com",
            "picture_url": None,
            "provider": "google",
        },
        "billing_info": {"plan": "free", "status": "active", "stripe_customer_id": None},
        "usage_info": {
            "monthly_allowance": 10.0,
            "spend_remaining": 9.75,
            "usage": [
                {"timestamp": "2026-11-30T09:20:00Z", "response_cost": 0.25, "agent_id": AGENT_ID}
            ],
            "last_reset": "2026-11-01T00:00:00Z",
        },
        "api_keys": {"openai_api_key": None, "anthropic_api_key": None},
        "created_at": "2026-11-01T08:00:00Z",
        "updated_at": "2026-11-30T09:20:00Z",
    }


def without_rev(doc: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in doc.items() if key != "_rev"}


def test_save_then_get_returns_the_document_with_its_id(db: DatabaseService) -> None:
    result = db.save("agents", AGENT_ID, agent_dump())
    assert set(result) == {"id", "rev"}
    assert result["id"] == AGENT_ID
    assert isinstance(result["rev"], str) and result["rev"]
    stored = db.get("agents", AGENT_ID)
    assert stored["_id"] == AGENT_ID
    assert stored["_rev"] == result["rev"]  # a real revision, not a placeholder
    assert without_rev(stored) == without_rev(agent_dump())


def test_a_missing_document_is_a_404_http_exception(db: DatabaseService) -> None:
    db.save("agents", "present", {"name": "x"})
    for collection, doc_id in [("agents", "absent"), ("demos", "never-created")]:
        with pytest.raises(HTTPException) as caught:
            db.get(collection, doc_id)
        assert caught.value.status_code == 404
        assert doc_id in str(caught.value.detail)
        # code written against asyncdb catches the same exception by asyncdb's name
        assert isinstance(caught.value, NotFoundError)


def test_save_upserts_last_writer_wins(db: DatabaseService) -> None:
    first = db.save("deployments", "summariser", {"agentId": "a-1"})
    second = db.save("deployments", "summariser", {"agentId": "a-2"})
    assert second["rev"] != first["rev"]
    assert db.get("deployments", "summariser")["agentId"] == "a-2"
    assert len(db.list_all("deployments")) == 1


def test_rev_none_and_empty_mean_no_revision(db: DatabaseService) -> None:
    """The original's models dump ``_rev: None`` (its CouchDB service dropped ``""``): every
    save of such a dump is an unconditional upsert, never a conflict or a 422."""
    db.save("users", "user_google_108234", user_dump())
    again = {**user_dump(), "usage_info": {**user_dump()["usage_info"], "spend_remaining": 9.5}}
    db.save("users", "user_google_108234", again)
    db.save("users", "user_google_108234", {**again, "_rev": ""})
    stored = db.get("users", "user_google_108234")
    assert stored["usage_info"]["spend_remaining"] == 9.5
    assert isinstance(stored["_rev"], str) and stored["_rev"]


def test_a_stale_rev_is_a_409_http_exception(db: DatabaseService) -> None:
    db.save("agents", AGENT_ID, agent_dump())
    read = db.get("agents", AGENT_ID)
    db.save("agents", AGENT_ID, {**read, "name": "first writer"})
    with pytest.raises(HTTPException) as caught:
        db.save("agents", AGENT_ID, {**read, "name": "stale writer"})
    assert caught.value.status_code == 409
    assert isinstance(caught.value, ConflictError)
    assert db.get("agents", AGENT_ID)["name"] == "first writer"


def test_delete_is_silent_for_a_missing_document(db: DatabaseService) -> None:
    db.save("tickets", "t-1", {"status": "pending"})
    db.delete("tickets", "t-1")
    with pytest.raises(HTTPException):
        db.get("tickets", "t-1")
    db.delete("tickets", "t-1")  # gone already: no error
    db.delete("sessions", "never-existed")  # a collection never written: no error either
    assert db.list_all("tickets") == []


def test_list_all_of_a_missing_collection_is_empty(db: DatabaseService) -> None:
    assert db.list_all("demos") == []
    docs = [{"name": f"demo {i}", "is_public": i % 2 == 0} for i in range(3)]
    for i, doc in enumerate(docs):
        db.save("demos", f"demo-{i}", doc)
    listed = sorted(db.list_all("demos"), key=lambda d: d["_id"])
    assert [d["_id"] for d in listed] == ["demo-0", "demo-1", "demo-2"]
    assert [without_rev({k: v for k, v in d.items() if k != "_id"}) for d in listed] == docs


def test_save_leaves_the_callers_document_unchanged(db: DatabaseService) -> None:
    doc = agent_dump()
    before = copy.deepcopy(doc)
    db.save("agents", AGENT_ID, doc)
    assert doc == before


def test_numbers_come_back_as_plain_json_numbers(db: DatabaseService) -> None:
    """The original's DynamoDB service handed out ``Decimal``; asyncdb never does."""
    db.save(
        "tickets",
        "t-2",
        {"status": "completed", "result": {"cost": Decimal("0.0031"), "tokens": Decimal(812)}},
    )
    result = db.get("tickets", "t-2")["result"]
    assert result == {"cost": 0.0031, "tokens": 812}
    assert type(result["cost"]) is float and type(result["tokens"]) is int


def test_ids_the_original_application_generates(db: DatabaseService) -> None:
    """Session ids from ``secrets.token_urlsafe()`` may start with ``_``; data-store ids
    hold a namespace with ``/`` and a long URL-safe base64 key."""
    key = "https://example.com/" + "a/" * 400
    encoded = base64.urlsafe_b64encode(key.encode()).decode()
    ids = {
        "sessions": "_Fq3kZ0d9xWmA1bC2dE3fG4hI5jK6lM7nO8pQ9rS0t",
        "agent_data_store": f"user_google_108234:files:apache/tomcat:{encoded}",
    }
    assert len(ids["agent_data_store"].encode()) > 1024
    for collection, doc_id in ids.items():
        db.save(collection, doc_id, {"_id": doc_id, "_rev": None, "value": {"n": 1}})
        assert db.get(collection, doc_id)["_id"] == doc_id
        assert [d["_id"] for d in db.list_all(collection)] == [doc_id]
        db.delete(collection, doc_id)
        assert db.list_all(collection) == []


def test_find_ensure_index_and_the_bulk_calls(db: DatabaseService) -> None:
    docs = [
        {"_id": f"k{i}", "_rev": None, "userId": "u1", "namespace": f"ns{i % 2}", "key": f"k{i}"}
        for i in range(4)
    ]
    db.ensure_index("agent_data_store", ["userId", "namespace"], index_name="by-ns")
    saved = db.save_many("agent_data_store", docs)
    assert [r["ok"] for r in saved] == [True] * 4 and [r["id"] for r in saved] == [
        "k0",
        "k1",
        "k2",
        "k3",
    ]
    hits = db.find("agent_data_store", {"userId": "u1", "namespace": "ns0"}, fields=["key"])
    assert sorted(h["key"] for h in hits) == ["k0", "k2"]
    got = db.get_many("agent_data_store", ["k1", "nope"])
    assert got["nope"] is None and got["k1"] is not None and got["k1"]["namespace"] == "ns1"
    db.save("agent_data_store", "k0", {**docs[0], "key": "moved"})  # newer than saved[0]
    stale = {**docs[0], "_rev": saved[0]["rev"]}
    assert db.save_many("agent_data_store", [stale])[0] == {
        "ok": False,
        "id": "k0",
        "error": "conflict",
    }
    deleted = db.delete_many("agent_data_store", ["k0", "k1", "nope"])
    assert deleted == [
        {"ok": True, "id": "k0"},
        {"ok": True, "id": "k1"},
        {"ok": True, "id": "nope"},
    ]
    assert sorted(d["_id"] for d in db.list_all("agent_data_store")) == ["k2", "k3"]


def original_documents() -> dict[str, dict[str, Any]]:
    """One document of each collection, as the original's models dump them."""
    return {
        "agents": agent_dump(),
        "users": user_dump(),
        "deployments": {"_id": "summariser", "agentId": AGENT_ID},
        "sessions": {
            "_id": "s-9f2c",
            "_rev": None,
            "user_id": "user_google_108234",
            "agent_id": AGENT_ID,
            "messages": [
                {"role": "user", "content": "Summarise it", "timestamp": "2026-11-30T09:20Z"},
                {"role": "assistant", "content": "It says ...", "timestamp": "2026-11-30T09:21Z"},
            ],
            "metadata": {"ip_address": None, "user_agent": "curl/8", "tags": []},
            "created_at": "2026-11-30T09:20:00Z",
            "updated_at": "2026-11-30T09:21:00Z",
            "expires_at": None,
        },
        "tickets": {
            "_id": "t-77",
            "status": "completed",
            "request": {"agent_id": AGENT_ID, "input": {"url": "https://x"}, "user_id": "u"},
            "result": {"output": {"summary": "..."}, "cost": 0.0031, "completed_at": "2026"},
            "error": None,
            "created_at": "2026-11-30T09:20:00Z",
            "updated_at": "2026-11-30T09:21:00Z",
        },
        "demos": {
            "_id": "demo-1",
            "_rev": None,
            "name": "Summariser demo",
            "agent_id": AGENT_ID,
            "config": {"theme": "dark", "max_messages": 20, "features": ["share"]},
            "is_public": True,
        },
        "agent_data_store": {
            "_id": "user_google_108234:notes:a2V5",
            "userId": "user_google_108234",
            "namespace": "notes",
            "key": "key",
            "value": {"nested": [1, 2.5, None, "x"]},
            "metadata": {},
            "accessCount": 3,
            "createdAt": "2026-11-30T09:20:00Z",
        },
    }


def test_every_collection_of_the_original_round_trips(db: DatabaseService) -> None:
    for collection, doc in original_documents().items():
        doc_id = doc["_id"]
        db.save(collection, doc_id, doc)
        stored = db.get(collection, doc_id)
        assert without_rev(stored) == without_rev(doc), collection
        # the original saves a model dump again (``_rev: None``): an upsert, no conflict
        db.save(collection, doc_id, {**doc, "updated_at": "2026-12-01T00:00:00Z"})
        # a dump of what was read carries the real _rev: a conditional write that holds
        read = db.get(collection, doc_id)
        db.save(collection, doc_id, {**read, "updated_at": "2026-12-02T00:00:00Z"})
        assert db.get(collection, doc_id)["updated_at"] == "2026-12-02T00:00:00Z"
        assert [d["_id"] for d in db.list_all(collection)] == [doc_id]
