"""asyncdb: one awaited document API over memory, CouchDB, Firestore and DynamoDB.

Importing asyncdb loads no client library; a provider's library is imported when that
provider is chosen.
"""

from asyncdb.documents import Document
from asyncdb.drivers.base import Driver, WriteOutcome
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
    ServiceClosedError,
    SyncFacadeMisuseError,
    ValidationError,
    WriteOutcomeUnknownError,
)
from asyncdb.factory import create_database_service, get_database_service, reset_database_service
from asyncdb.registry import available_providers, register_provider
from asyncdb.results import BulkResult, Page
from asyncdb.service import DatabaseService
from asyncdb.settings import Settings
from asyncdb.sync import SyncDatabaseService

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
    "DocumentTooLargeError",
    "Driver",
    "InvalidCursorError",
    "InvalidDocumentError",
    "InvalidExportError",
    "InvalidNameError",
    "InvalidQueryError",
    "NotFoundError",
    "Page",
    "ServiceClosedError",
    "Settings",
    "SyncDatabaseService",
    "SyncFacadeMisuseError",
    "ValidationError",
    "WriteOutcome",
    "WriteOutcomeUnknownError",
    "__version__",
    "available_providers",
    "create_database_service",
    "get_database_service",
    "register_provider",
    "reset_database_service",
]
