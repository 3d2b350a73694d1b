"""An app over a fresh memory service, and an httpx client on its ASGI transport (with
the lifespan run, as a server would): ``client`` is the generic API (no schemas),
``schema_client`` the same with the application's schema set (``asyncdb.schemas``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from fastapi import FastAPI

from asyncdb import DatabaseService, Settings, create_database_service
from asyncdb.schemas import SCHEMA_MODELS
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


async def _serve(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as http,
    ):
        yield http


@pytest.fixture
async def client(make_app: Callable[..., FastAPI]) -> AsyncIterator[httpx.AsyncClient]:
    async for http in _serve(make_app()):
        yield http


@pytest.fixture
async def schema_client(make_app: Callable[..., FastAPI]) -> AsyncIterator[httpx.AsyncClient]:
    async for http in _serve(make_app(schemas=SCHEMA_MODELS)):
        yield http
