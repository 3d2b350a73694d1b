"""asyncdb: one awaited document API over memory, CouchDB, Firestore and DynamoDB.

Importing asyncdb loads no client library; a provider's library is imported when that
provider is chosen.
"""

from asyncdb._documents import Document
from asyncdb._factory import create_database_service, get_database_service, reset_database_service
from asyncdb._registry import available_providers, register_provider
from asyncdb._results import BulkResult, Page
from asyncdb._service import DatabaseService
from asyncdb._settings import Settings
from asyncdb._sync import SyncDatabaseService
from asyncdb.abc import DocumentService
from asyncdb.drivers.base import Driver, Record, WriteOutcome
from asyncdb.drivers.settings import DriverSettings
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
    ValidationError,
    WriteOutcomeUnknownError,
    WrongEventLoopError,
)

__version__ = "0.1.0"

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
    "ValidationError",
    "WriteOutcome",
    "WriteOutcomeUnknownError",
    "WrongEventLoopError",
    "__version__",
    "available_providers",
    "create_database_service",
    "get_database_service",
    "register_provider",
    "reset_database_service",
]
