"""The original application's database-service interface, over asyncdb's blocking facade.

An application written against the original service switches by changing one import::

    from asyncdb.compat import DatabaseService, get_database_service

``DatabaseService`` keeps the original method names, signatures and return shapes:

- ``get(db_name, doc_id)`` returns the document with ``_id`` (and asyncdb's real
  ``_rev``); a missing one raises FastAPI's ``HTTPException`` with ``status_code=404``
  when FastAPI is installed (the exception is also an ``asyncdb.NotFoundError``), else
  ``asyncdb.NotFoundError`` (``status_code`` 404 as well);
- ``save(db_name, doc_id, doc)`` upserts and returns ``{"id": doc_id, "rev": new_rev}``.
  A ``_rev`` of ``None`` or ``""`` (what pydantic models dump for a new document) means
  "no revision": last writer wins. A real ``_rev`` makes the write conditional, and a
  stale one raises ``HTTPException(409)`` (also an ``asyncdb.ConflictError``);
- ``delete(db_name, doc_id)`` returns ``None``; deleting a missing document is not an
  error;
- ``list_all(db_name)`` returns every document, ``[]`` for a missing collection;
- ``find``, ``ensure_index``, ``save_many``, ``delete_many`` and ``get_many`` follow the
  later versions of the original interface.

Every other failure is asyncdb's own error (each has a ``status_code``). The calls block:
use them from ``def`` routes, scripts and worker threads. Called inside a running event
loop (an ``async def`` route) they raise ``SyncFacadeMisuseError`` instead of freezing
the loop; move those routes to the awaited API (docs/migrating.md).
"""

from __future__ import annotations

import importlib.util
import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from asyncdb._registry import settings_class_of
from asyncdb._results import BulkResult
from asyncdb._settings import Settings
from asyncdb._sync import SyncDatabaseService
from asyncdb.errors import ConfigurationError, ConflictError, NotFoundError, SyncFacadeMisuseError

__all__ = [
    "DatabaseService",
    "get_database_service",
    "reset_database_service",
    "settings_from",
]

logger = logging.getLogger("asyncdb")

T = TypeVar("T")

#: The original settings' attribute names (the environment variables of the same names)
#: and the asyncdb ``Settings`` fields they set.
SETTING_NAMES: dict[str, str] = {
    "DATABASE_PROVIDER": "database_provider",
    "COUCHDB_URL": "couchdb_url",
    "COUCHDB_USER": "couchdb_user",
    "COUCHDB_PASSWORD": "couchdb_password",
    "DYNAMODB_REGION": "dynamodb_region",
    "DYNAMODB_ENDPOINT_URL": "dynamodb_endpoint_url",
    "AWS_ACCESS_KEY_ID": "aws_access_key_id",
    "AWS_SECRET_ACCESS_KEY": "aws_secret_access_key",
}

#: The original ``find``'s default cap on matches.
FIND_LIMIT = 10_000

_HAS_FASTAPI = importlib.util.find_spec("fastapi") is not None

if _HAS_FASTAPI:
    from fastapi import HTTPException

    class DocumentNotFoundHTTPError(HTTPException, NotFoundError):
        """``HTTPException(404)`` for code written against the original service, and
        ``asyncdb.NotFoundError`` for code written against asyncdb."""

        def __init__(self, collection: str, doc_id: str) -> None:
            HTTPException.__init__(
                self, status_code=404, detail=f"Document '{doc_id}' not found in '{collection}'"
            )
            self.collection = collection
            self.doc_id = doc_id

    class RevisionConflictHTTPError(HTTPException, ConflictError):
        """``HTTPException(409)`` and ``asyncdb.ConflictError``: the ``_rev`` sent is not
        the document's current revision."""

        def __init__(self, message: str) -> None:
            HTTPException.__init__(
                self, status_code=409, detail=f"Document update conflict: {message}"
            )

    __all__ += ["DocumentNotFoundHTTPError", "RevisionConflictHTTPError"]


def _misuse(what: str) -> SyncFacadeMisuseError:
    return SyncFacadeMisuseError(
        f"asyncdb.compat.{what} was called inside a running event loop (an `async def` "
        "route?): it blocks, and would freeze every other request of the loop. Await "
        "asyncdb's DatabaseService there (`await db.get(...)`, see docs/migrating.md), or "
        "declare the route with `def`."
    )


def _not_found(error: NotFoundError) -> NotFoundError:
    if _HAS_FASTAPI:
        return DocumentNotFoundHTTPError(error.collection, error.doc_id)
    return error


def _conflict(error: ConflictError) -> ConflictError:
    if _HAS_FASTAPI:
        return RevisionConflictHTTPError(str(error))
    return error


def _without_empty_rev(doc: Mapping[str, Any]) -> dict[str, Any]:
    """``doc`` without ``_id`` (the argument names the document) and without a ``_rev``
    of ``None`` or ``""``, which the original application writes for "no revision"."""
    body = {key: value for key, value in doc.items() if key != "_id"}
    if "_rev" in body and body["_rev"] in (None, ""):
        del body["_rev"]
    return body


class DatabaseService:
    """The original service's interface over a ``SyncDatabaseService`` (its owner: ``close``
    closes it). Build it with ``get_database_service(settings)``, or directly over a facade
    (``DatabaseService(SyncDatabaseService(Settings(...)))``) for tests and scripts.
    """

    def __init__(self, facade: SyncDatabaseService) -> None:
        self._facade = facade
        self._closed = False

    def __repr__(self) -> str:
        return f"<asyncdb.compat.DatabaseService over {self._facade.service!r}>"

    @property
    def facade(self) -> SyncDatabaseService:
        """The blocking asyncdb facade underneath (every asyncdb method, blocking)."""
        return self._facade

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Close the facade and its service. Idempotent."""
        self._closed = True
        self._facade.close()

    def __enter__(self) -> DatabaseService:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _call(self, method: str, func: Callable[..., T], *args: Any) -> T:
        try:
            return func(*args)
        except SyncFacadeMisuseError:
            raise _misuse(f"DatabaseService.{method}()") from None

    # -- the original interface -------------------------------------------------------------
    def get(self, db_name: str, doc_id: str) -> dict[str, Any]:
        """The document, with ``_id`` and ``_rev``; 404 if it does not exist."""
        try:
            return self._call("get", self._facade.get, db_name, doc_id)
        except NotFoundError as error:
            raise _not_found(error) from None

    def save(self, db_name: str, doc_id: str, doc: dict[str, Any]) -> dict[str, Any]:
        """Upsert ``doc``; ``{"id": doc_id, "rev": new_rev}``. Conditional only when ``doc``
        carries a real ``_rev`` (409 if it is stale). ``doc`` itself is left unchanged."""
        body: Any = _without_empty_rev(doc) if isinstance(doc, Mapping) else doc
        try:
            stored = self._call("save", self._facade.save, db_name, doc_id, body)
        except ConflictError as error:
            raise _conflict(error) from None
        return {"id": doc_id, "rev": stored["_rev"]}

    def delete(self, db_name: str, doc_id: str) -> None:
        """Delete the document; a missing one is not an error."""
        self._call("delete", self._facade.delete, db_name, doc_id)

    def list_all(self, db_name: str) -> list[dict[str, Any]]:
        """Every document of the collection (each with ``_id``); ``[]`` if it is missing."""
        return self._call("list_all", self._facade.list_all, db_name)

    # -- the later additions to the original interface --------------------------------------
    def find(
        self,
        db_name: str,
        selector: dict[str, Any],
        fields: list[str] | None = None,
        limit: int | None = FIND_LIMIT,
    ) -> list[dict[str, Any]]:
        """Documents whose top-level fields equal ``selector`` (values or ``{"$in": [...]}``),
        at most ``limit`` (``None``: all). ``fields`` projects; ``_id`` and ``_rev`` are
        always returned."""
        return self._call("find", self._facade.find, db_name, selector, fields, limit)

    def ensure_index(self, db_name: str, fields: list[str], index_name: str | None = None) -> None:
        """Ask the backend for an index on ``fields`` (idempotent). asyncdb names its own
        indexes, so ``index_name`` is accepted and not used."""
        self._call("ensure_index", self._facade.ensure_index, db_name, fields)

    def save_many(self, db_name: str, docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Save documents that carry ``_id``: one result per document, in order,
        ``{"ok": True, "id", "rev"}`` or ``{"ok": False, "id", "error"}`` (``"conflict"``
        for a stale ``_rev``)."""
        bodies = [
            {**_without_empty_rev(doc), "_id": doc.get("_id")} if isinstance(doc, Mapping) else doc
            for doc in docs
        ]
        result = self._call("save_many", self._facade.save_many, db_name, bodies)
        return _outcomes(result, with_rev=True)

    def delete_many(self, db_name: str, doc_ids: list[str]) -> list[dict[str, Any]]:
        """Delete documents by id: ``{"ok": True, "id"}`` per document (a missing one
        counts as deleted) or ``{"ok": False, "id", "error"}``."""
        result = self._call("delete_many", self._facade.delete_many, db_name, doc_ids)
        return _outcomes(result, with_rev=False)

    def get_many(self, db_name: str, doc_ids: list[str]) -> dict[str, dict[str, Any] | None]:
        """``{id: document or None}`` for every id asked for."""
        return self._call("get_many", self._facade.get_many, db_name, doc_ids)


def _outcomes(result: BulkResult, *, with_rev: bool) -> list[dict[str, Any]]:
    shaped: list[dict[str, Any]] = []
    for outcome in result:
        if outcome.error is None:
            entry: dict[str, Any] = {"ok": True, "id": outcome.id}
            if with_rev:
                entry["rev"] = outcome.rev
        else:
            error = "conflict" if isinstance(outcome.error, ConflictError) else str(outcome.error)
            entry = {"ok": False, "id": outcome.id, "error": error}
        shaped.append(entry)
    return shaped


# -- settings and the process singleton --------------------------------------------------------
def settings_from(settings: object = None) -> Settings:
    """asyncdb ``Settings`` for the original application's ``settings`` object.

    The environment is read as asyncdb always reads it (the same variable names as the
    original: ``DATABASE_PROVIDER``, ``COUCHDB_URL``, ``COUCHDB_USER``,
    ``COUCHDB_PASSWORD``, ``DYNAMODB_REGION``, ``DYNAMODB_ENDPOINT_URL``, the AWS and Google
    variables); string attributes of ``settings`` with those names take precedence. An
    asyncdb ``Settings`` is used as it is; ``None`` means the environment alone.
    """
    if isinstance(settings, Settings):
        return settings
    overrides: dict[str, str] = {}
    if settings is not None:
        for attribute, field in SETTING_NAMES.items():
            value = getattr(settings, attribute, None)
            if isinstance(value, str) and value:
                overrides[field] = value
    try:
        provider = overrides.get("database_provider") or Settings().resolved().database_provider
        # The original's settings object carries every backend's attributes (with
        # defaults); only the chosen provider's own are passed on, as the others are
        # not settings of that provider.
        own_fields = settings_class_of(provider).model_fields
        chosen = {k: v for k, v in overrides.items() if k in own_fields or k == "database_provider"}
        return Settings(**chosen)  # type: ignore[arg-type]  # fields given by name
    except ValueError as exc:
        raise ConfigurationError(f"invalid database settings: {exc}") from None


_lock = threading.Lock()
_singleton: tuple[Settings, DatabaseService] | None = None


def get_database_service(settings: object = None) -> DatabaseService:
    """The process-wide service, built on the first call from ``settings`` (the original
    application's settings object, an asyncdb ``Settings``, or ``None`` for the
    environment); later calls return the same instance.

    Differences from the original: an unknown ``DATABASE_PROVIDER`` is a
    ``ConfigurationError`` (never a silent in-memory store), and asking for other settings
    than the running service's raises ``ConfigurationError`` (a new provider needs a
    restart, or ``reset_database_service()`` in tests).
    """
    global _singleton
    wanted = settings_from(settings)
    with _lock:
        if _singleton is not None and not _singleton[1].closed:
            built_with, service = _singleton
            if wanted != built_with:
                raise ConfigurationError(
                    f"the database service already runs with provider "
                    f"{built_with.database_provider!r}; other settings (provider "
                    f"{wanted.database_provider!r}) need a restart of the process"
                )
            return service
        try:
            facade = SyncDatabaseService(wanted)
        except SyncFacadeMisuseError:
            raise _misuse("get_database_service()") from None
        service = DatabaseService(facade)
        _singleton = (wanted, service)
        logger.info("asyncdb.compat service created (provider %s)", wanted.database_provider)
        return service


def reset_database_service() -> None:
    """Close and forget the process-wide service (tests; the original's
    ``_db_instance = None``)."""
    global _singleton
    with _lock:
        current, _singleton = _singleton, None
    if current is not None:
        current[1].close()
