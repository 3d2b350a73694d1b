"""Bearer tokens (guessable ones refused), the loopback rule, the public docs page,
CORS, and the body-size limit."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from fastapi import FastAPI

from asyncdb import ConfigurationError
from asyncdb.server import ServerConfig, create_app
from asyncdb.server._config import is_loopback
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
@pytest.mark.parametrize("path", ["/healthz", "/v1/notes/n1", "/v1/notes", "/docs/x"])
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
    ("token", "message"),
    [
        ("change-me-to-a-long-random-token", "documented placeholder"),  # .env.example's
        ("CHANGEME0123456789abcdef", "documented placeholder"),
        ("aaaaaaaaaaaaaaaa", "too easy to guess"),
        ("abababababababababab", "too easy to guess"),
    ],
)
@pytest.mark.parametrize("host", ["0.0.0.0", "127.0.0.1"])
def test_guessable_tokens_are_refused(token: str, message: str, host: str) -> None:
    with pytest.raises(ConfigurationError, match=message) as refused:
        ServerConfig(api_token=token, host=host).check()
    assert token not in str(refused.value)


def test_the_env_example_token_is_refused() -> None:
    from tests.server.test_deploy_files import _env_example

    with pytest.raises(ConfigurationError, match="placeholder"):
        ServerConfig(api_token=_env_example()["ASYNCDB_API_TOKEN"], host="0.0.0.0").check()


def test_a_random_token_is_accepted() -> None:
    import secrets

    ServerConfig(api_token=secrets.token_urlsafe(16), host="0.0.0.0").check()
    ServerConfig(api_token=secrets.token_hex(16), host="0.0.0.0").check()


async def test_the_docs_page_loads_without_the_token_and_offline(secured: FastAPI) -> None:
    async with _client(secured) as client:
        page = await client.get("/docs")
        assert page.status_code == 200
        assert "cdn" not in page.text.lower() and "https://" not in page.text
        assert "/docs/assets/swagger-ui-bundle.js" in page.text
        script = await client.get("/docs/assets/swagger-ui-bundle.js")
        assert script.status_code == 200 and "SwaggerUIBundle" in script.text
        css = await client.get("/docs/assets/swagger-ui.css")
        assert css.status_code == 200
        schema = await client.get("/openapi.json")
        assert schema.status_code == 200
        # The page is public; the API it calls is not.
        assert (await client.get("/v1/notes/n1")).status_code == 401
        assert (await client.put("/openapi.json", json={})).status_code == 401


async def test_cors_is_off_by_default(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz", headers={"Origin": "http://localhost:3000"})
    assert "access-control-allow-origin" not in response.headers


async def test_cors_origins_may_call_the_api(make_app: Callable[..., FastAPI]) -> None:
    app = make_app(api_token=TOKEN, cors_origins=("http://localhost:3000",))
    async with app.router.lifespan_context(app), _client(app) as client:
        preflight = await client.options(
            "/v1/notes/n1",
            headers={
                "Origin": "http://localhost:3000",
                "Access-Control-Request-Method": "PUT",
                "Access-Control-Request-Headers": "authorization, content-type, if-match",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "http://localhost:3000"
        assert "PUT" in preflight.headers["access-control-allow-methods"]
        put = await client.put(
            "/v1/notes/n1",
            json={"v": 1},
            headers={"Origin": "http://localhost:3000", "Authorization": f"Bearer {TOKEN}"},
        )
        assert put.status_code == 200
        assert put.headers["access-control-allow-origin"] == "http://localhost:3000"
        assert "etag" in put.headers["access-control-expose-headers"].lower()
        other = await client.options(
            "/v1/notes/n1",
            headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "PUT"},
        )
        assert other.status_code == 400


def test_cors_origins_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASYNCDB_CORS_ORIGINS", "http://a.test, https://b.test:8443")
    assert ServerConfig().cors_origins == ("http://a.test", "https://b.test:8443")


@pytest.mark.parametrize("origin", ["localhost:3000", "http://a.test/", "http://a.test/app"])
def test_a_malformed_cors_origin_is_refused(origin: str) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="is not an origin"):
        ServerConfig(cors_origins=(origin,))


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
