"""The one error hierarchy of asyncdb.

Every error carries an HTTP-like ``status_code`` so that a web layer can map it without a
table of its own. Backend exceptions are chained (``raise ... from exc``), never swallowed.
Messages never contain credentials: drivers build them from redacted URLs only.
"""

from __future__ import annotations

__all__ = [
    "AsyncDBError",
    "AuthenticationError",
    "BackendError",
    "BackendUnavailableError",
    "ConfigurationError",
    "ConflictError",
    "DocumentTooLargeError",
    "InvalidCursorError",
    "InvalidDocumentError",
    "InvalidExportError",
    "InvalidNameError",
    "InvalidQueryError",
    "NotFoundError",
    "ReadOnlyError",
    "ServiceClosedError",
    "SyncFacadeMisuseError",
    "UnindexedQueryError",
    "ValidationError",
    "WriteOutcomeUnknownError",
    "WrongEventLoopError",
    "first_error",
]


class AsyncDBError(Exception):
    """Base class of every error asyncdb raises on purpose."""

    status_code: int = 500


class NotFoundError(AsyncDBError):
    """The document does not exist."""

    status_code = 404

    def __init__(self, collection: str, doc_id: str) -> None:
        super().__init__(f"document {doc_id!r} not found in collection {collection!r}")
        self.collection = collection
        self.doc_id = doc_id


class ConflictError(AsyncDBError):
    """A write lost a race: stale ``_rev``, an id that ``create`` found taken, or ``update``
    out of attempts."""

    status_code = 409


class ValidationError(AsyncDBError):
    """The input breaks the document contract (see docs/contract.md)."""

    status_code = 422


class InvalidNameError(ValidationError):
    """A collection name or a document id that the contract refuses."""


class InvalidDocumentError(ValidationError):
    """A document that is not portable JSON; ``path`` locates the offending value."""

    def __init__(self, message: str, path: str = "$") -> None:
        super().__init__(f"{message} at {path}")
        self.path = path


class InvalidQueryError(ValidationError):
    """A ``find`` filter, projection or limit that the portable query language refuses."""


class UnindexedQueryError(InvalidQueryError):
    """``strict=True`` and the backend cannot run this query natively (422): asyncdb would
    have answered it from a filtered scan."""


class InvalidExportError(ValidationError):
    """An export file (NDJSON) line that is not a valid record; ``line`` is 1-based."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"line {line}: {reason}")
        self.line = line


class DocumentTooLargeError(AsyncDBError):
    """The document is larger than the contract's size limit."""

    status_code = 413


class InvalidCursorError(AsyncDBError):
    """A pagination cursor that asyncdb did not issue for this collection."""

    status_code = 400


class BackendError(AsyncDBError):
    """The backend failed in a way asyncdb has no better name for; the cause is chained."""

    status_code = 500


class AuthenticationError(BackendError):
    """The backend refused the configured credentials (they are never echoed)."""

    status_code = 500


class BackendUnavailableError(BackendError):
    """The backend could not be reached, timed out or is throttling, after retries."""

    status_code = 503


class WriteOutcomeUnknownError(BackendUnavailableError):
    """A conditional write may or may not have been applied.

    An attempt was lost in transit (timeout, dropped connection, gateway error) and its
    retry met a conflict, which that very attempt may have caused. Reporting a conflict
    would be a guess, and ``update()`` would apply its function twice on a wrong guess; so
    the write's fate is left to the caller: read the document to see.
    """

    status_code = 503


class ReadOnlyError(AsyncDBError):
    """A write was refused because the database is read-only (nothing was written)."""

    # Forbidden rather than 405: the request is well formed and its method is one the
    # route supports; this deployment refuses to change data. (405 would also oblige an
    # Allow header naming methods that are not the point, and POST reads such as _find
    # stay allowed.)
    status_code = 403

    def __init__(self, operation: str, collection: str | None) -> None:
        where = "" if collection is None else f" on collection {collection!r}"
        super().__init__(f"the database is read-only: {operation}{where} refused")
        self.operation = operation
        self.collection = collection


class ServiceClosedError(AsyncDBError):
    """The service was closed with ``aclose()`` and cannot be used any more."""

    status_code = 503


class ConfigurationError(AsyncDBError):
    """The settings are incomplete or wrong; raised at start-up, before any I/O."""

    status_code = 500


class SyncFacadeMisuseError(AsyncDBError, RuntimeError):
    """The blocking facade was called from a thread that runs an event loop."""

    status_code = 500


def first_error(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The exception that matters in a task group's ``ExceptionGroup``: the first one
    that is not a cancellation (the others were usually cancelled because of it)."""
    import anyio

    cancelled = anyio.get_cancelled_exc_class()
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            exc = first_error(exc)
        if not isinstance(exc, cancelled):
            return exc
    return group.exceptions[0]


class WrongEventLoopError(AsyncDBError, RuntimeError):
    """A service was called from another event loop than the one it runs on (the first
    loop that used it): its connections belong to that loop."""

    status_code = 500
