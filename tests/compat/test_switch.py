"""Switching an application by one import: the factory, its settings, the process
singleton, FastAPI routes, and the refusal inside a running event loop (memory only; the
interface itself runs on every backend in test_interface.py)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from types import SimpleNamespace
from unittest import mock

import pytest
from fastapi import FastAPI, HTTPException
from fastapi.testclient import TestClient

import asyncdb.compat
from asyncdb import ConfigurationError, NotFoundError, Settings, SyncFacadeMisuseError
from asyncdb.compat import (
    DatabaseService,
    get_database_service,
    reset_database_service,
    settings_from,
)
from asyncdb.drivers.couchdb.settings import CouchDBSettings
from asyncdb.drivers.dynamodb.settings import DynamoDBSettings


@pytest.fixture(autouse=True)
def fresh_singleton(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("DATABASE_URL", "DATABASE_PROVIDER", "DATABASE_COLLECTION_PREFIX"):
        monkeypatch.delenv(name, raising=False)
    reset_database_service()
    yield
    reset_database_service()


def test_one_service_per_process() -> None:
    settings = SimpleNamespace(DATABASE_PROVIDER="memory")
    db = get_database_service(settings)
    assert get_database_service(settings) is db
    assert get_database_service(SimpleNamespace(DATABASE_PROVIDER="memory")) is db
    db.save("agents", "a-1", {"name": "x"})
    assert get_database_service(settings).get("agents", "a-1")["name"] == "x"
    with pytest.raises(ConfigurationError, match="restart"):
        get_database_service(SimpleNamespace(DATABASE_PROVIDER="couchdb"))
    reset_database_service()
    assert db.closed
    fresh = get_database_service(settings)
    assert fresh is not db and fresh.list_all("agents") == []


def test_settings_come_from_the_same_environment_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_PROVIDER", "dynamodb")
    monkeypatch.setenv("DYNAMODB_REGION", "eu-west-1")
    monkeypatch.setenv("DYNAMODB_ENDPOINT_URL", "http://127.0.0.1:8000")
    monkeypatch.setenv("COUCHDB_USER", "admin")
    from_env = settings_from(None)
    assert from_env.database_provider == "dynamodb"
    assert DynamoDBSettings.of(from_env).dynamodb_region == "eu-west-1"
    assert DynamoDBSettings.of(from_env).dynamodb_endpoint_url == "http://127.0.0.1:8000"
    # the application's settings object wins where it has a (string) value
    app_settings = SimpleNamespace(
        DATABASE_PROVIDER="couchdb",
        COUCHDB_URL="http://couch:5984",
        COUCHDB_PASSWORD="pw",
        DYNAMODB_REGION=None,
    )
    merged = settings_from(app_settings)
    assert merged.database_provider == "couchdb"
    couchdb = CouchDBSettings.of(merged)
    assert couchdb.couchdb_url is not None
    assert couchdb.couchdb_url.get_secret_value() == "http://couch:5984"
    assert couchdb.couchdb_user == "admin"  # from the environment
    assert "pw" not in repr(merged)
    # the original's object carries every backend's attributes; the other backends'
    # ones are left out instead of being refused as settings of the wrong provider
    app_settings.DYNAMODB_REGION = "us-east-1"
    assert "dynamodb_region" not in settings_from(app_settings).provider_fields()
    # a mock settings object (as in the original's unit tests) sets nothing by accident
    assert settings_from(mock.MagicMock()).database_provider == "dynamodb"
    asyncdb_settings = Settings(database_provider="memory")
    assert settings_from(asyncdb_settings) is asyncdb_settings


def test_an_unknown_provider_is_an_error_not_a_silent_memory_store() -> None:
    with pytest.raises(ConfigurationError):
        get_database_service(SimpleNamespace(DATABASE_PROVIDER="mongodb"))


def test_a_blocking_call_inside_a_running_loop_is_refused_clearly() -> None:
    db = get_database_service(SimpleNamespace(DATABASE_PROVIDER="memory"))

    async def handler() -> None:
        db.get("agents", "a-1")

    with pytest.raises(SyncFacadeMisuseError) as caught:
        asyncio.run(handler())
    message = str(caught.value)
    assert "DatabaseService.get()" in message
    assert "async def" in message and "docs/migrating.md" in message


def test_in_a_fastapi_application() -> None:
    """``def`` routes work unchanged (FastAPI runs them in a worker thread), the 404 is
    the original's ``HTTPException``; an ``async def`` route gets the clear refusal."""
    app = FastAPI()

    def db() -> DatabaseService:
        return get_database_service(SimpleNamespace(DATABASE_PROVIDER="memory"))

    @app.put("/agents/{agent_id}")
    def put_agent(agent_id: str, body: dict[str, str]) -> dict[str, str]:
        saved: dict[str, str] = db().save("agents", agent_id, {**body, "_rev": None})
        return saved

    @app.get("/agents/{agent_id}")
    def read_agent(agent_id: str) -> dict[str, str]:
        found: dict[str, str] = db().get("agents", agent_id)
        return found

    @app.get("/async/agents/{agent_id}")
    async def read_agent_async(agent_id: str) -> dict[str, str]:
        found: dict[str, str] = db().get("agents", agent_id)
        return found

    with TestClient(app) as client:
        assert client.put("/agents/a-1", json={"name": "x"}).json()["id"] == "a-1"
        assert client.get("/agents/a-1").json()["name"] == "x"
        missing = client.get("/agents/nope")
        assert missing.status_code == 404
        assert missing.json() == {"detail": "Document 'nope' not found in 'agents'"}
        with pytest.raises(SyncFacadeMisuseError):
            client.get("/async/agents/a-1")


def test_without_fastapi_a_missing_document_is_asyncdbs_not_found(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(asyncdb.compat, "_HAS_FASTAPI", False)
    db = get_database_service(SimpleNamespace(DATABASE_PROVIDER="memory"))
    with pytest.raises(NotFoundError) as caught:
        db.get("agents", "nope")
    assert not isinstance(caught.value, HTTPException)
    assert caught.value.status_code == 404


def test_the_process_exits_without_closing_the_service() -> None:
    """The original service needed no closing; a facade's loop thread left running would
    keep the interpreter from exiting, so the facade closes what is still open at exit."""
    script = (
        "from asyncdb.compat import get_database_service\n"
        "db = get_database_service(None)\n"
        "db.save('agents', 'a-1', {'name': 'x'})\n"
        "print(db.get('agents', 'a-1')['name'])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "x"
