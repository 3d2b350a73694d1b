"""The seven schema models: aliases, timestamps, secrets, per-collection rules."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from pydantic import ValidationError

from asyncdb.schemas import (
    SCHEMA_MODELS,
    Agent,
    AgentDataEntry,
    Demo,
    Deployment,
    Session,
    Ticket,
    User,
    agent_data_id,
)

USER = {
    "_id": "user_google_1",
    "basic_info": {"display_name": "Ada", "email": "ada@example.org", "provider": "google"},
    "api_keys": {"openai_api_key": "sk-secret"},
}


def test_the_seven_collections_have_models() -> None:
    assert set(SCHEMA_MODELS) == {
        "agents",
        "deployments",
        "users",
        "sessions",
        "tickets",
        "demos",
        "agent_data_store",
    }


def test_id_and_rev_are_aliases() -> None:
    agent = Agent.model_validate({"_id": "a-1", "_rev": "3-x", "name": "n"})
    assert agent.id == "a-1" and agent.rev == "3-x"
    assert Agent(id="a-2", name="n").to_document()["_id"] == "a-2"
    document = agent.to_document()
    assert document["_id"] == "a-1" and document["_rev"] == "3-x"
    assert "_rev" not in agent.to_document(include_rev=False)


def test_agents_get_a_uuid4_id_by_default() -> None:
    assert uuid.UUID(Agent(name="n").id).version == 4


def test_invalid_ids_are_field_errors() -> None:
    with pytest.raises(ValidationError, match="must not contain control characters"):
        Agent(id="a\x01b", name="n")


def test_timestamps_are_aware_and_stored_as_utc_iso() -> None:
    agent = Agent(name="n", created_at="2026-01-01T12:00:00+02:00", updated_at="2026-01-01T10:00")
    assert agent.created_at == dt.datetime(2026, 1, 1, 10, tzinfo=dt.UTC)
    assert agent.updated_at.tzinfo is dt.UTC  # naive input is read as UTC
    document = agent.to_document()
    assert document["created_at"] == "2026-01-01T10:00:00+00:00"
    assert isinstance(document["updated_at"], str)


def test_unknown_fields_are_kept() -> None:
    agent = Agent.model_validate({"_id": "a", "name": "n", "legacy_flag": True})
    assert agent.to_document()["legacy_flag"] is True


def test_api_keys_are_masked_in_repr_and_stored_in_clear() -> None:
    user = User.model_validate(USER)
    assert "sk-secret" not in repr(user) and "sk-secret" not in str(user)
    assert user.api_keys is not None and user.api_keys.openai_api_key is not None
    assert user.api_keys.openai_api_key.get_secret_value() == "sk-secret"
    assert user.to_document()["api_keys"]["openai_api_key"] == "sk-secret"
    assert User.secret_fields == frozenset({"api_keys"})


def test_a_listing_copy_leaves_the_secrets_out() -> None:
    user = User.from_document(USER, include_secrets=False)
    assert user.api_keys is None and user.secrets_withheld
    assert not User.from_document(USER).secrets_withheld


def test_deployments_need_an_agent() -> None:
    assert Deployment(id="summariser", agentId="a-1").to_document() == {
        "_id": "summariser",
        "agentId": "a-1",
    }
    with pytest.raises(ValidationError):
        Deployment.model_validate({"_id": "x"})


def test_sessions_check_message_roles() -> None:
    session = Session(id="s1", user_id="u", agent_id="a")
    assert session.messages == []
    with pytest.raises(ValidationError):
        Session.model_validate(
            {
                "_id": "s",
                "user_id": "u",
                "agent_id": "a",
                "messages": [{"role": "x", "content": ""}],
            }
        )


def test_tickets_tie_result_and_error_to_status() -> None:
    request = {"agent_id": "a", "user_id": "u", "input": {"q": 1}}
    Ticket.model_validate({"_id": "t", "status": "completed", "request": request, "result": {}})
    Ticket.model_validate({"_id": "t", "status": "failed", "request": request, "error": "boom"})
    with pytest.raises(ValidationError, match="only when its status is completed"):
        Ticket.model_validate({"_id": "t", "status": "pending", "request": request, "result": {}})
    with pytest.raises(ValidationError, match="only when its status is failed"):
        Ticket.model_validate({"_id": "t", "request": request, "error": {"code": 1}})
    with pytest.raises(ValidationError):
        Ticket.model_validate({"_id": "t", "status": "done", "request": request})


def test_demos() -> None:
    demo = Demo(id="d", name="n", agent_id="a", config={"theme": "dark", "extra": 1})
    assert demo.to_document()["config"] == {
        "theme": "dark",
        "max_messages": None,
        "features": [],
        "extra": 1,
    }
    with pytest.raises(ValidationError):
        Demo(id="d", name="n", agent_id="a", config={"max_messages": 0})


def test_agent_data_ids_are_derived_and_checked() -> None:
    entry = AgentDataEntry(userId="u1", namespace="notes", key="a/b c", value={"x": 1})
    assert entry.id == agent_data_id("u1", "notes", "a/b c")
    assert "/" not in entry.id and entry.id.startswith("u1:notes:")
    unpadded = entry.id.rstrip("=")
    assert AgentDataEntry.model_validate({**entry.to_document(), "_id": unpadded}).key == "a/b c"
    with pytest.raises(ValidationError, match="URL-safe base64"):
        AgentDataEntry.model_validate({**entry.to_document(), "_id": "u1:notes:other"})
