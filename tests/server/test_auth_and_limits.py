"""Bearer tokens, the loopback rule, and the body-size limit."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from fastapi import FastAPI

from asyncdb import ConfigurationError
from asyncdb.server import ServerConfig, create_app
from asyncdb.server.config import is_loopback
from tests.server.conftest import TOKEN


def _client(app: FastAPI, **headers: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver", headers=headers
    )


@pytest.fixture
async def secured(make_app: Callable[..., FastAPI]) -> AsyncIterator[FastAPI]:
    app = make_app(api_token=TOKEN, host="0.0.0.0")
    async with app.router.lifespan_context(app):
        yield app


@pytest.mark.parametrize(
    "authorization", [None, "", "Bearer", "Bearer wrong-token-0123456789ab", f"Basic {TOKEN}"]
)
@pytest.mark.parametrize("path", ["/healthz", "/v1/notes/n1", "/docs", "/openapi.json"])
async def test_requests_without_the_token_are_401(
    secured: FastAPI, authorization: str | None, path: str
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    async with _client(secured, **headers) as client:
        response = await client.get(path)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["error"]["status"] == 401
    assert TOKEN not in response.text


async def test_requests_with_the_token_pass(secured: FastAPI) -> None:
    async with _client(secured, Authorization=f"Bearer {TOKEN}") as client:
        assert (await client.get("/healthz")).status_code == 200
        assert (await client.put("/v1/notes/n1", json={"v": 1})).status_code == 200
        schema = (await client.get("/openapi.json")).json()
    assert schema["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert schema["security"] == [{"bearer": []}]


def test_a_public_address_without_a_token_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="ASYNCDB_API_TOKEN"):
        create_app(config=ServerConfig(host="0.0.0.0"))


def test_a_short_token_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="too short"):
        ServerConfig(api_token="short").check()


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.5", False),
        ("example.org", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


async def test_a_declared_oversized_body_is_413(make_app: Callable[..., FastAPI]) -> None:
    app = make_app(max_body_bytes=2048)
    async with app.router.lifespan_context(app), _client(app) as client:
        response = await client.put("/v1/notes/n1", json={"blob": "x" * 4096})
        assert response.status_code == 413
        assert response.json()["error"]["status"] == 413
        small = await client.put("/v1/notes/n1", json={"blob": "x" * 100})
        assert small.status_code == 200


async def test_a_chunked_oversized_body_is_413(make_app: Callable[..., FastAPI]) -> None:
    app = make_app(max_body_bytes=2048)

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"blob": "'
        for _ in range(10):
            yield b"x" * 512
        yield b'"}'

    async with app.router.lifespan_context(app), _client(app) as client:
        response = await client.put(
            "/v1/notes/n1", content=chunks(), headers={"content-type": "application/json"}
        )
        assert response.status_code == 413
        assert (await client.get("/v1/notes/n1")).status_code == 404


async def test_a_chunked_small_body_passes(make_app: Callable[..., FastAPI]) -> None:
    app = make_app(max_body_bytes=2048)

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"a": '
        yield b"1}"

    async with app.router.lifespan_context(app), _client(app) as client:
        response = await client.put(
            "/v1/notes/n1", content=chunks(), headers={"content-type": "application/json"}
        )
        assert response.status_code == 200 and response.json()["a"] == 1
