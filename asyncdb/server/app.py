"""``create_app``: the FastAPI application of ``asyncdb serve``.

It builds the database service at once (so a misconfiguration fails before the server
listens), opens and closes it with the application's lifespan, installs the JSON error
handlers, the body-size limit and, when a token is configured, bearer authentication
(also declared in the OpenAPI schema at ``/openapi.json``, browsable at ``/docs``).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI

from asyncdb import __version__
from asyncdb.factory import create_database_service
from asyncdb.fastapi import install_error_handlers, open_database
from asyncdb.server.auth import BearerTokenMiddleware
from asyncdb.server.config import ServerConfig
from asyncdb.server.limits import BodySizeLimitMiddleware
from asyncdb.server.routes import router
from asyncdb.service import DatabaseService
from asyncdb.settings import Settings

__all__ = ["create_app"]

_DESCRIPTION = """\
A REST document API over asyncdb: the same behaviour on every provider.

- The revision of a document travels as its `ETag`; `If-Match` makes a write or delete
  conditional and `If-None-Match: *` a create (**412** when the condition fails).
- Documents of the seven application collections (agents, deployments, users, sessions,
  tickets, demos, agent_data_store) are validated against their models (**422** with the
  field errors); other collections take any JSON object the document contract accepts.
- Errors are JSON: `{"error": {"status", "type", "message", "details"?}}`.
"""


def create_app(
    settings: Settings | None = None,
    *,
    config: ServerConfig | None = None,
    service: DatabaseService | None = None,
) -> FastAPI:
    """The document API over ``service`` (left open: it is the caller's) or over a new
    service built from ``settings`` / the environment (closed at shutdown).

    Raises ``ConfigurationError`` for an unknown provider, missing settings, or a
    non-loopback host without ``ASYNCDB_API_TOKEN``.
    """
    config = ServerConfig() if config is None else config
    config.check()
    owned = service is None
    db = create_database_service(settings) if service is None else service

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            async with open_database(app, service=db):
                yield
        finally:
            if owned:
                await db.aclose()

    app = FastAPI(
        title="asyncdb document API",
        version=__version__,
        description=_DESCRIPTION,
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.include_router(router)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=config.max_body_bytes)
    if config.api_token is not None:
        # Added last, so it runs first: no unauthenticated body is even read.
        app.add_middleware(BearerTokenMiddleware, token=config.api_token.get_secret_value())
        _declare_bearer_auth(app)
    return app


def _declare_bearer_auth(app: FastAPI) -> None:
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            components = schema.setdefault("components", {})
            components.setdefault("securitySchemes", {})["bearer"] = {
                "type": "http",
                "scheme": "bearer",
                "description": "the value of ASYNCDB_API_TOKEN",
            }
            schema["security"] = [{"bearer": []}]
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
