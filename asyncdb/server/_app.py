"""``create_app``: the FastAPI application of ``asyncdb serve``.

It builds the database service at once (so a misconfiguration fails before the server
listens), opens and closes it with the application's lifespan, installs the JSON error
handlers, the request checks (UTF-8 path, JSON bodies, body-size limit), CORS when
origins are configured and, when a token is configured, bearer authentication (declared
in the OpenAPI schema). ``/docs`` is Swagger UI served from the ``swagger-ui-bundle-v2``
package (no CDN); the page and ``/openapi.json`` load without the token, the API calls
made from it need it ("Authorize").
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any, Final

import swagger_ui_bundle  # type: ignore[import-untyped]  # data only, no stubs
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from asyncdb import __version__
from asyncdb._factory import create_database_service
from asyncdb._service import DatabaseService
from asyncdb._settings import Settings
from asyncdb.fastapi import install_error_handlers, open_database
from asyncdb.server import _bulk as bulk
from asyncdb.server import _patch as patch
from asyncdb.server import _routes as routes
from asyncdb.server._auth import BearerTokenMiddleware
from asyncdb.server._config import ServerConfig
from asyncdb.server._deps import STATE_SCHEMAS
from asyncdb.server._limits import BodySizeLimitMiddleware
from asyncdb.server._requests import RequestShapeMiddleware

__all__ = ["DOCS_ASSETS", "PUBLIC_PATHS", "create_app"]

#: Where Swagger UI's files are served from (the installed package's copy).
DOCS_ASSETS: Final = "/docs/assets"
#: Paths a browser loads without sending the token: the page, its files, the schema.
PUBLIC_PATHS: Final = ("/docs", "/openapi.json")

_DESCRIPTION = """\
A REST document API over asyncdb: the same behaviour on every provider.

- The revision of a document travels as its `ETag`; `If-Match` makes a write or delete
  conditional and `If-None-Match: *` a create (**412** when the condition fails).
- Any collection takes any JSON object the document contract accepts; a server started
  with a schema set (`--schemas MODULE:ATTR`) validates the documents of the collections
  it names against their models (**422** with the field errors).
- Errors are JSON: `{"error": {"status", "type", "message", "details"?}}`.
"""

_ALLOWED_HEADERS: Final = ["Authorization", "Content-Type", "If-Match", "If-None-Match"]
_EXPOSED_HEADERS: Final = ["ETag", "Location", "Retry-After"]


def create_app(
    settings: Settings | None = None,
    *,
    config: ServerConfig | None = None,
    service: DatabaseService | None = None,
) -> FastAPI:
    """The document API over ``service`` (left open: it is the caller's) or over a new
    service built from ``settings`` / the environment (closed at shutdown).

    Raises ``ConfigurationError`` for an unknown provider, missing settings, a non-loopback
    host without ``ASYNCDB_API_TOKEN``, or a guessable token.
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
        docs_url=None,
        redoc_url=None,
    )
    setattr(app.state, STATE_SCHEMAS, dict(config.schemas or {}))
    install_error_handlers(app)
    _serve_docs(app)
    app.include_router(routes.router)
    app.include_router(bulk.router)
    app.include_router(patch.router)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=config.max_body_bytes)
    app.add_middleware(RequestShapeMiddleware)
    if config.api_token is not None:
        # Added after the others, so it runs before them: no unauthenticated body is read.
        app.add_middleware(
            BearerTokenMiddleware,
            token=config.api_token.get_secret_value(),
            public_paths=PUBLIC_PATHS,
            public_prefixes=(DOCS_ASSETS + "/",),
        )
        _declare_bearer_auth(app)
    if config.cors_origins:
        # Outermost: a browser's preflight (OPTIONS) carries no token and must be answered.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(config.cors_origins),
            allow_methods=["GET", "HEAD", "PUT", "PATCH", "POST", "DELETE"],
            allow_headers=_ALLOWED_HEADERS,
            expose_headers=_EXPOSED_HEADERS,
        )
    return app


def _serve_docs(app: FastAPI) -> None:
    app.mount(
        DOCS_ASSETS, StaticFiles(directory=swagger_ui_bundle.swagger_ui_path), name="docs-assets"
    )

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="asyncdb document API",
            swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_ASSETS}/favicon-32x32.png",
        )


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
