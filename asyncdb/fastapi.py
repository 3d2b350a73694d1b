"""FastAPI integration: open the service with the app, hand it to handlers, map errors.

::

    from fastapi import FastAPI
    from asyncdb.fastapi import Database, database_lifespan, install_error_handlers

    app = FastAPI(lifespan=database_lifespan())      # settings from the environment
    install_error_handlers(app)                       # asyncdb errors -> JSON, right status

    @app.get("/agents/{agent_id}")
    async def read_agent(agent_id: str, db: Database) -> dict:
        return await db.get("agents", agent_id)       # NotFoundError -> 404

Sync handlers (``def``, which FastAPI runs in a worker thread) take ``SyncDatabase``: a
blocking facade whose calls run on the application's own event loop and its one
connection pool, so the loop is never blocked and no second pool is opened.

This module imports FastAPI; ``import asyncdb`` never imports it.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from asyncdb._factory import create_database_service
from asyncdb._offload import off_loop
from asyncdb._service import DatabaseService
from asyncdb._settings import Settings
from asyncdb._sync import SyncDatabaseService
from asyncdb.errors import (
    AsyncDBError,
    AuthenticationError,
    BackendError,
    BackendUnavailableError,
    ConfigurationError,
    ServiceClosedError,
    WriteOutcomeUnknownError,
)

__all__ = [
    "Database",
    "PreconditionFailedError",
    "SyncDatabase",
    "database_lifespan",
    "error_body",
    "error_response",
    "get_database",
    "get_sync_database",
    "install_error_handlers",
    "open_database",
    "public_message",
    "status_of",
]

logger = logging.getLogger("asyncdb")

T = TypeVar("T")

_STATE_SERVICE = "asyncdb"
_STATE_SYNC = "asyncdb_sync"

#: What a client sees for server-side failures: the detail goes to the log only.
_GENERIC_MESSAGES = {
    503: "the database is unavailable; try again later",
    500: "internal error; see the server log",
}
_REFUSED_CREDENTIALS = (
    "the database refused this server's credentials (a server misconfiguration); see the server log"
)


def status_of(exc: AsyncDBError) -> int:
    """The HTTP status of an error: its ``status_code``, except that refused credentials
    are a 503 (the deployment is misconfigured; the request itself was fine and may
    succeed once the operator fixes it), the same on every route."""
    if isinstance(exc, AuthenticationError):
        return 503
    return exc.status_code


class PreconditionFailedError(AsyncDBError):
    """An ``If-Match`` / ``If-None-Match`` condition did not hold (HTTP 412)."""

    status_code = 412


# -- errors as JSON ----------------------------------------------------------------------------
def error_body(
    status: int, error_type: str, message: str, details: list[Any] | None = None
) -> dict[str, Any]:
    """The JSON shape of every error answer: ``{"error": {status, type, message[, details]}}``."""
    error: dict[str, Any] = {"status": status, "type": error_type, "message": message}
    if details:
        error["details"] = details
    return {"error": error}


def public_message(exc: AsyncDBError) -> str:
    """The message a client may see: the error's own for client errors (they describe the
    client's input), a generic one for server errors (they may name hosts or internals)."""
    status = status_of(exc)
    if status >= 500:
        if isinstance(exc, AuthenticationError):
            return _REFUSED_CREDENTIALS
        if isinstance(exc, ServiceClosedError):
            return "the service is shutting down"
        if isinstance(exc, WriteOutcomeUnknownError):
            return "the write may or may not have been applied; read the document to see"
        return _GENERIC_MESSAGES.get(status, _GENERIC_MESSAGES[500])
    return str(exc)


def error_response(exc: AsyncDBError) -> JSONResponse:
    """A JSON response for an asyncdb error, with its ``status_code``.

    Server-side errors (5xx) are logged with their cause and answered generically; a 503
    carries ``Retry-After``. Errors with a ``details`` list (field errors) pass it on.
    """
    status = status_of(exc)
    if status == 503:
        logger.warning("request failed: %s: %s", type(exc).__name__, exc)
    elif status >= 500:
        logger.error(
            "request failed: %s: %s", type(exc).__name__, exc, exc_info=exc.__cause__ is not None
        )
    headers = {"Retry-After": "1"} if status == 503 else None
    details = getattr(exc, "details", None)
    body = error_body(
        status,
        type(exc).__name__,
        public_message(exc),
        details if isinstance(details, list) else None,
    )
    return JSONResponse(body, status_code=status, headers=headers)


async def _asyncdb_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AsyncDBError)
    return error_response(exc)


async def _request_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    details = [
        {"loc": list(error.get("loc", ())), "msg": error.get("msg", ""), "type": error.get("type")}
        for error in exc.errors()
    ]
    body = error_body(422, "RequestValidationError", "the request is not valid", details)
    return JSONResponse(body, status_code=422)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(exc.headers or {})
    message = str(exc.detail)
    if exc.status_code == 404 and message == "Not Found":
        message = f"no route answers {request.method} {request.url.path}"
    elif exc.status_code == 405:
        # Starlette names the methods of the first route whose path matched; the answer
        # must list those of every route on this path (RFC 9110 15.5.6).
        allowed = _allowed_methods(request)
        if allowed:
            headers["Allow"] = ", ".join(allowed)
            message = f"{request.method} is not allowed here; allowed: {headers['Allow']}"
    body = error_body(exc.status_code, "HTTPError", message)
    return JSONResponse(body, status_code=exc.status_code, headers=headers or None)


_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def _allowed_methods(request: Request) -> list[str]:
    # Asked of the routes themselves (included routers too), one method at a time.
    routes = request.app.router.routes
    return [
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes
        )
    ]


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    logger.error("unhandled %s in %s %s", type(exc).__name__, request.method, request.url.path)
    logger.debug("unhandled error", exc_info=exc)
    return JSONResponse(error_body(500, "InternalError", _GENERIC_MESSAGES[500]), status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    """Answer asyncdb errors, request validation errors, HTTP errors and anything
    unexpected with the JSON of ``error_body`` and the right status (404, 409, 412, 413,
    422, 503, ...). Server-side failures never show internal detail or secrets."""
    app.add_exception_handler(AsyncDBError, _asyncdb_error)
    app.add_exception_handler(RequestValidationError, _request_validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)


# -- lifespan and dependencies -----------------------------------------------------------------
@contextlib.asynccontextmanager
async def open_database(
    app: FastAPI,
    settings: Settings | None = None,
    *,
    service: DatabaseService | None = None,
) -> AsyncIterator[DatabaseService]:
    """Attach a service to ``app`` for the duration of the block (use it inside your own
    lifespan). It builds one from ``settings`` (or the environment) and closes it at the
    end, or uses ``service`` and leaves it open: a service passed in is the caller's.

    A backend that cannot be reached at start-up is logged, not fatal (``/healthz`` and
    each request report it); a misconfiguration is raised at once.
    """
    owned = service is None
    # Built in a worker thread: importing the provider's client library and building its
    # driver would block the loop the application already serves on.
    db = await off_loop(lambda: create_database_service(settings)) if service is None else service
    try:
        try:
            await db.open()
        except BackendError as exc:
            status = "unavailable" if isinstance(exc, BackendUnavailableError) else "failing"
            logger.warning("database %s at start-up: %s", status, exc)
        # Worker threads of sync handlers block; the app's loop does the I/O, on one pool.
        sync = SyncDatabaseService.over_running_loop(db)
        setattr(app.state, _STATE_SERVICE, db)
        setattr(app.state, _STATE_SYNC, sync)
        try:
            yield db
        finally:
            sync.close()
            delattr(app.state, _STATE_SYNC)
            delattr(app.state, _STATE_SERVICE)
    finally:
        if owned:
            await db.aclose()


def database_lifespan(
    settings: Settings | None = None, *, service: DatabaseService | None = None
) -> Callable[[FastAPI], contextlib.AbstractAsyncContextManager[None]]:
    """A FastAPI ``lifespan`` that opens the service at start-up and closes it at
    shutdown: ``FastAPI(lifespan=database_lifespan())``. See ``open_database``."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_database(app, settings, service=service):
            yield

    return lifespan


def get_database(request: Request) -> DatabaseService:
    """Dependency: the application's ``DatabaseService`` (for ``async def`` handlers)."""
    return _from_state(request, _STATE_SERVICE, DatabaseService)


def get_sync_database(request: Request) -> SyncDatabaseService:
    """Dependency: the blocking facade (for ``def`` handlers, which run in worker threads).

    Its calls run on the application's event loop; calling it from an ``async def``
    handler raises ``SyncFacadeMisuseError`` instead of freezing the loop.
    """
    return _from_state(request, _STATE_SYNC, SyncDatabaseService)


def _from_state(request: Request, name: str, kind: type[T]) -> T:
    """What ``open_database`` put on the app's state under ``name``."""
    found = getattr(request.app.state, name, None)
    if not isinstance(found, kind):
        raise ConfigurationError(
            "no asyncdb service on this app: create it with "
            "FastAPI(lifespan=asyncdb.fastapi.database_lifespan())"
        )
    return found


#: ``db: Database`` in an ``async def`` handler's parameters.
Database = Annotated[DatabaseService, Depends(get_database)]
#: ``db: SyncDatabase`` in a ``def`` handler's parameters.
SyncDatabase = Annotated[SyncDatabaseService, Depends(get_sync_database)]
