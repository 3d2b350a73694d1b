"""An app over a fresh memory service, and an httpx client on its ASGI transport (with
the lifespan run, as a server would)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from fastapi import FastAPI

from asyncdb import DatabaseService, Settings, create_database_service
from asyncdb.server import ServerConfig, create_app

TOKEN = "test-token-0123456789abcdef"


@pytest.fixture
def service() -> DatabaseService:
    return create_database_service(Settings(database_provider="memory"))


@pytest.fixture
def make_app(service: DatabaseService) -> Callable[..., FastAPI]:
    def make(**config: object) -> FastAPI:
        return create_app(service=service, config=ServerConfig(**config))  # type: ignore[arg-type]

    return make


@pytest.fixture
async def client(make_app: Callable[..., FastAPI]) -> AsyncIterator[httpx.AsyncClient]:
    app = make_app()
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as http,
    ):
        yield http
