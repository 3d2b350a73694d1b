"""What the SQLite driver knows about failures: which ones a retry may cure (``classify``)
and how an ``sqlite3`` error becomes an asyncdb error (``translate``).

SQLite reports a failure with a result code (``sqlite3.Error.sqlite_errorcode``; its low
byte is the primary code). A statement that fails with ``SQLITE_BUSY`` or
``SQLITE_LOCKED`` did not change the database (SQLite rolls the statement back before it
answers), so it is retried under the one policy; every other failure is final.
"""

from __future__ import annotations

import sqlite3
from typing import Final

from asyncdb._retry import Failure
from asyncdb.errors import (
    AsyncDBError,
    BackendError,
    BackendUnavailableError,
    ConfigurationError,
    DocumentTooLargeError,
    WriteOutcomeUnknownError,
)

__all__ = ["classify", "is_missing_table", "primary_code", "translate"]

# Primary result codes (https://www.sqlite.org/rescode.html).
_PERM: Final = 3
_BUSY: Final = 5
_LOCKED: Final = 6
_READONLY: Final = 8
_IOERR: Final = 10
_CORRUPT: Final = 11
_FULL: Final = 13
_CANTOPEN: Final = 14
_TOOBIG: Final = 18
_AUTH: Final = 23
_NOTADB: Final = 26

#: Another connection holds the lock: the statement was not applied, a retry may succeed.
_TRANSIENT: Final = frozenset({_BUSY, _LOCKED})
#: The file cannot be used as configured: a setting to fix, not a request to retry.
_CONFIGURATION: Final = frozenset({_PERM, _READONLY, _CANTOPEN, _AUTH, _NOTADB})


def primary_code(exc: BaseException) -> int | None:
    """The primary SQLite result code of ``exc``, ``None`` when it carries none."""
    code = getattr(exc, "sqlite_errorcode", None)
    return code & 0xFF if isinstance(code, int) else None


def classify(exc: Exception) -> Failure:
    """Busy and locked are transient and certainly not applied; the rest is final."""
    if isinstance(exc, sqlite3.Error) and primary_code(exc) in _TRANSIENT:
        return Failure.NOT_APPLIED
    return Failure.FINAL


def is_missing_table(exc: BaseException) -> bool:
    """Whether ``exc`` says that a collection's table does not exist (yet, or any more)."""
    return isinstance(exc, sqlite3.OperationalError) and "no such table" in str(exc)


def translate(exc: Exception, where: str, *, writing: bool) -> AsyncDBError:
    """The asyncdb error for ``exc``. ``where`` names the file and the operation (never a
    document's content); ``writing`` says whether the failed call was a write."""
    code = primary_code(exc)
    reason = f"{type(exc).__name__}: {exc}"
    if code in _TRANSIENT:
        return BackendUnavailableError(
            f"{where}: the database stayed locked by another connection past the busy "
            f"timeout (SQLITE_BUSY_TIMEOUT) on every attempt ({reason})"
        )
    if code in _CONFIGURATION:
        return ConfigurationError(f"{where}: {_configuration_hint(code)} ({reason})")
    if code == _TOOBIG:
        return DocumentTooLargeError(f"{where}: SQLite refused the document as too big")
    if code in (_IOERR, _FULL) and writing:
        # A failed write or sync of the log may leave the commit on disk or not.
        return WriteOutcomeUnknownError(
            f"{where}: the file could not be written ({reason}); the write may or may not "
            "have been applied: read the document to see"
        )
    if code in (_IOERR, _FULL):
        return BackendUnavailableError(f"{where}: the file could not be read ({reason})")
    if code == _CORRUPT:
        return BackendError(f"{where}: the database file is damaged ({reason})")
    return BackendError(f"{where}: {reason}")


def _configuration_hint(code: int | None) -> str:
    if code == _NOTADB:
        return "the file is not a SQLite database: point SQLITE_PATH at another file"
    if code == _READONLY:
        return (
            "the database is read-only here: SQLITE_PATH and its folder must be writable "
            "(SQLite writes the -wal and -shm files beside it)"
        )
    return (
        "the database file cannot be opened: SQLITE_PATH must name a file in a folder "
        "this process can write"
    )
