"""asyncdb.fastapi: lifespan, dependencies (async and sync handlers), error handlers."""

from __future__ import annotations

import threading
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from asyncdb import (
    AuthenticationError,
    BackendUnavailableError,
    ConfigurationError,
    DatabaseService,
    Settings,
    SyncDatabaseService,
    WriteOutcomeUnknownError,
    create_database_service,
)
from asyncdb.fastapi import (
    Database,
    SyncDatabase,
    database_lifespan,
    install_error_handlers,
    open_database,
)


def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


def _app(**lifespan_args: Any) -> FastAPI:
    app = FastAPI(lifespan=database_lifespan(**lifespan_args))
    install_error_handlers(app)

    @app.get("/agents/{agent_id}")
    async def read(agent_id: str, db: Database) -> dict[str, Any]:
        return await db.get("agents", agent_id)

    @app.put("/agents/{agent_id}")
    async def write(agent_id: str, body: dict[str, Any], db: Database) -> dict[str, Any]:
        return await db.save("agents", agent_id, body)

    @app.get("/sync/agents/{agent_id}")
    def read_sync(agent_id: str, db: SyncDatabase) -> dict[str, Any]:
        # A worker thread: the facade runs the call on the app's loop.
        assert threading.current_thread() is not threading.main_thread()
        return db.get("agents", agent_id)

    @app.put("/sync/agents/{agent_id}")
    def write_sync(agent_id: str, body: dict[str, Any], db: SyncDatabase) -> dict[str, Any]:
        return db.update("agents", agent_id, lambda doc: {**doc, **body}, default={})

    @app.get("/misuse")
    async def misuse(db: SyncDatabase) -> dict[str, Any]:
        return db.get("agents", "x")  # blocking call on the loop: refused

    return app


async def test_the_lifespan_opens_and_closes_an_owned_service() -> None:
    app = _app(settings=Settings(database_provider="memory"))
    async with app.router.lifespan_context(app):
        service = app.state.asyncdb
        assert isinstance(service, DatabaseService) and not service.closed
    assert service.closed
    assert not hasattr(app.state, "asyncdb")


async def test_a_service_passed_in_stays_open() -> None:
    service = create_database_service(Settings(database_provider="memory"))
    app = _app(service=service)
    async with app.router.lifespan_context(app):
        assert app.state.asyncdb is service
    assert not service.closed
    await service.aclose()


async def test_async_and_sync_handlers_share_one_service() -> None:
    app = _app(settings=Settings(database_provider="memory"))
    async with app.router.lifespan_context(app), _client(app) as client:
        written = await client.put("/agents/a1", json={"name": "x"})
        assert written.status_code == 200
        assert (await client.get("/sync/agents/a1")).json()["name"] == "x"
        updated = await client.put("/sync/agents/a1", json={"name": "y"})
        assert updated.json()["name"] == "y"
        assert (await client.get("/agents/a1")).json()["name"] == "y"


async def test_the_sync_facade_refuses_the_event_loop_thread() -> None:
    app = _app(settings=Settings(database_provider="memory"))
    async with app.router.lifespan_context(app), _client(app) as client:
        response = await client.get("/misuse")
    assert response.status_code == 500
    assert response.json()["error"]["type"] == "SyncFacadeMisuseError"


async def test_errors_map_to_statuses() -> None:
    app = _app(settings=Settings(database_provider="memory"))
    async with app.router.lifespan_context(app), _client(app) as client:
        missing = await client.get("/agents/nope")
        assert missing.status_code == 404
        assert missing.json()["error"]["type"] == "NotFoundError"
        stored = (await client.put("/agents/a1", json={"v": 1})).json()
        await client.put("/agents/a1", json={"v": 2})
        conflict = await client.put("/agents/a1", json=stored)
        assert conflict.status_code == 409
        invalid = await client.put("/agents/a%01b", json={})
        assert invalid.status_code == 422
        too_large = await client.put("/agents/big", json={"b": "x" * 500_000})
        assert too_large.status_code == 413


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (BackendUnavailableError("db.internal:5984 refused"), 503),
        # Refused credentials: the deployment is misconfigured, the request was fine.
        (AuthenticationError("user admin refused at db.internal"), 503),
        (WriteOutcomeUnknownError("write to db.internal lost"), 503),
    ],
)
async def test_server_errors_hide_their_detail(error: Exception, status: int) -> None:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/boom")
    async def boom() -> None:
        raise error

    async with _client(app) as client:
        response = await client.get("/boom")
    assert response.status_code == status
    assert "db.internal" not in response.text and "admin" not in response.text


async def test_a_write_of_unknown_outcome_tells_the_client_to_read_back() -> None:
    app = FastAPI()
    install_error_handlers(app)

    @app.put("/boom")
    async def boom() -> None:
        raise WriteOutcomeUnknownError("write to db.internal lost")

    async with _client(app) as client:
        response = await client.put("/boom")
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["type"] == "WriteOutcomeUnknownError"
    assert error["message"] == (
        "the write may or may not have been applied; read the document to see"
    )


async def test_unexpected_exceptions_are_a_generic_500() -> None:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/boom")
    async def boom() -> None:
        raise KeyError("password=hunter2")

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False), base_url="http://t"
    ) as client:
        response = await client.get("/boom")
    assert response.status_code == 500
    assert "hunter2" not in response.text
    assert response.json()["error"]["type"] == "InternalError"


async def test_a_handler_without_the_lifespan_gets_a_clear_error() -> None:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/x")
    async def read(db: Database) -> None:
        return None

    async with _client(app) as client:
        response = await client.get("/x")
    assert response.status_code == 500
    assert response.json()["error"]["type"] == "ConfigurationError"


async def test_open_database_composes_with_an_own_lifespan() -> None:
    app = FastAPI()
    async with open_database(app, Settings(database_provider="memory")) as db:
        assert app.state.asyncdb is db
        assert isinstance(app.state.asyncdb_sync, SyncDatabaseService)
    assert db.closed


async def test_a_bad_provider_fails_at_start_up() -> None:
    app = FastAPI(lifespan=database_lifespan(Settings(database_provider="memroy")))
    with pytest.raises(ConfigurationError, match="memroy"):
        async with app.router.lifespan_context(app):
            pass


def test_importing_asyncdb_does_not_import_fastapi() -> None:
    import subprocess
    import sys

    code = (
        "import sys, asyncdb, asyncdb.models, asyncdb.schemas, asyncdb.server, "
        "asyncdb.server._config, asyncdb.server._command, asyncdb.cli; "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('fastapi', 'uvicorn', 'starlette')]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
