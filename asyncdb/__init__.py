"""asyncdb: one awaited document API over memory, SQLite, PostgreSQL, CouchDB, Firestore and
DynamoDB.

Importing asyncdb loads no client library, and neither pydantic nor the event-loop
machinery: each public name is imported from the module that owns it when it is first
asked for (``asyncdb.Settings`` loads pydantic-settings then, ``asyncdb.DatabaseService``
loads anyio), so a command-line tool or a worker that only needs one part pays only for
that part (docs/performance.md has the numbers; tests/test_import_cost.py guards them).
The errors are imported eagerly: they are small and needed by every ``except`` clause.
"""

from __future__ import annotations

import importlib

from asyncdb.errors import (
    AsyncDBError,
    AuthenticationError,
    BackendError,
    BackendUnavailableError,
    ConfigurationError,
    ConflictError,
    DocumentTooLargeError,
    InvalidCursorError,
    InvalidDocumentError,
    InvalidExportError,
    InvalidNameError,
    InvalidQueryError,
    NotFoundError,
    ReadOnlyError,
    ServiceClosedError,
    SyncFacadeMisuseError,
    UnindexedQueryError,
    ValidationError,
    WriteOutcomeUnknownError,
    WrongEventLoopError,
)

# Not ``typing.TYPE_CHECKING``: importing typing (and re, which it loads) would be most of
# what ``import asyncdb`` costs. Type checkers treat any name TYPE_CHECKING as true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    # What the lazy names below resolve to, for type checkers and IDEs; never run.
    from typing import Any

    from asyncdb._documents import Document
    from asyncdb._factory import (
        create_database_service,
        get_database_service,
        open_database_service,
        reset_database_service,
    )
    from asyncdb._registry import available_providers, register_provider
    from asyncdb._results import BulkResult, Page
    from asyncdb._service import DatabaseService
    from asyncdb._settings import Settings
    from asyncdb._sync import SyncDatabaseService
    from asyncdb.abc import DocumentService
    from asyncdb.drivers.base import Driver, Record, WriteOutcome
    from asyncdb.drivers.settings import DriverSettings

__version__ = "0.1.0"

#: Each lazily exported name and the module that owns it.
_LAZY: dict[str, str] = {
    "BulkResult": "asyncdb._results",
    "DatabaseService": "asyncdb._service",
    "Document": "asyncdb._documents",
    "DocumentService": "asyncdb.abc",
    "Driver": "asyncdb.drivers.base",
    "DriverSettings": "asyncdb.drivers.settings",
    "Page": "asyncdb._results",
    "Record": "asyncdb.drivers.base",
    "Settings": "asyncdb._settings",
    "SyncDatabaseService": "asyncdb._sync",
    "WriteOutcome": "asyncdb.drivers.base",
    "available_providers": "asyncdb._registry",
    "create_database_service": "asyncdb._factory",
    "get_database_service": "asyncdb._factory",
    "open_database_service": "asyncdb._factory",
    "register_provider": "asyncdb._registry",
    "reset_database_service": "asyncdb._factory",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'asyncdb' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    # Cached as a module global: the next access is an ordinary attribute lookup.
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "AsyncDBError",
    "AuthenticationError",
    "BackendError",
    "BackendUnavailableError",
    "BulkResult",
    "ConfigurationError",
    "ConflictError",
    "DatabaseService",
    "Document",
    "DocumentService",
    "DocumentTooLargeError",
    "Driver",
    "DriverSettings",
    "InvalidCursorError",
    "InvalidDocumentError",
    "InvalidExportError",
    "InvalidNameError",
    "InvalidQueryError",
    "NotFoundError",
    "Page",
    "ReadOnlyError",
    "Record",
    "ServiceClosedError",
    "Settings",
    "SyncDatabaseService",
    "SyncFacadeMisuseError",
    "UnindexedQueryError",
    "ValidationError",
    "WriteOutcome",
    "WriteOutcomeUnknownError",
    "WrongEventLoopError",
    "__version__",
    "available_providers",
    "create_database_service",
    "get_database_service",
    "open_database_service",
    "register_provider",
    "reset_database_service",
]
