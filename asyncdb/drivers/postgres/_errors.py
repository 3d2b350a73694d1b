"""What the PostgreSQL driver knows about failures: which ones a retry may cure and whether
the failed attempt may have been applied (``classify``), and how an asyncpg error becomes
an asyncdb error (``translate``).

Every statement of the driver is one statement in its own implicit transaction. So:

- a failure to get a connection (``NotSent``) happened before anything was sent: the
  statement was certainly not applied;
- an error the server reports for the statement (a ``PostgresError`` with a SQLSTATE)
  means it was rolled back: serialization failures, deadlocks, cancellations and "too many
  connections" are worth a retry, the rest is final;
- a connection lost while the statement ran (a reset, a killed server, a cut-off answer,
  asyncpg's own command timeout, a server shutting the session down) leaves the commit
  unknown: ``AMBIGUOUS``.
"""

from __future__ import annotations

from typing import Final

import asyncpg

from asyncdb._retry import Failure, outcome_unknown
from asyncdb.errors import (
    AsyncDBError,
    AuthenticationError,
    BackendError,
    BackendUnavailableError,
    ConfigurationError,
    DocumentTooLargeError,
)

__all__ = ["NotSent", "classify", "translate"]

#: Rolled back by the server, and worth another attempt.
_RETRIED: Final = frozenset(
    {
        "40001",  # serialization_failure
        "40P01",  # deadlock_detected
        "53300",  # too_many_connections
        "55P03",  # lock_not_available
        "57014",  # query_canceled (statement_timeout): the statement did not commit
        "57P03",  # cannot_connect_now: the server is starting up
    }
)
#: The server ends the session (shutdown, another backend crashed): a commit may have
#: finished just before, with its answer lost.
_SESSION_ENDED: Final = frozenset({"57P01", "57P02"})
#: Refusals of who we are: never retried.
_CREDENTIALS: Final = frozenset({"28P01", "28000"})


class NotSent(Exception):
    """A connection could not be had: the statement was never sent. Raised inside the
    retried call only; ``translate`` unwraps it."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(f"{type(cause).__name__}")
        self.cause = cause


def _sqlstate(exc: BaseException) -> str:
    return str(getattr(exc, "sqlstate", "") or "")


def classify(exc: Exception) -> Failure:
    """Whether ``exc`` is worth a retry, and whether the failed attempt may have landed."""
    if isinstance(exc, NotSent):
        code = _sqlstate(exc.cause)
        if code in _CREDENTIALS or code == "3D000":  # invalid_catalog_name: no such database
            return Failure.FINAL
        if isinstance(exc.cause, asyncpg.PostgresError) and not (
            code in _RETRIED or code in _SESSION_ENDED or code.startswith("08")
        ):
            return Failure.FINAL
        return Failure.NOT_APPLIED
    if isinstance(exc, asyncpg.PostgresError):
        code = _sqlstate(exc)
        if code in _RETRIED:
            return Failure.NOT_APPLIED
        if code in _SESSION_ENDED or code.startswith("08"):
            return Failure.AMBIGUOUS
        return Failure.FINAL
    if isinstance(exc, OSError | TimeoutError | asyncpg.InternalClientError):
        # A reset, an answer cut off (ProtocolError), or the command timeout: the server
        # may have committed before the answer was lost.
        return Failure.AMBIGUOUS
    return Failure.FINAL


def _reason(exc: BaseException) -> str:
    """A short description of ``exc`` for a message. A server message names objects and
    users, never a password; it is cut short because it may quote a value."""
    code = _sqlstate(exc)
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if len(text) > 200:
        text = text[:200] + "…"
    head = f"{type(exc).__name__}" + (f" {code}" if code else "")
    return f"{head}: {text}" if text else head


def translate(
    exc: BaseException,
    *,
    where: str,
    user: str | None,
    database: str | None,
    what: str,
    ambiguous: bool,
    attempts: int,
) -> AsyncDBError:
    """The asyncdb error for a statement that failed for good. ``where`` names the server
    without credentials; ``what`` the operation (no document content)."""
    if isinstance(exc, AsyncDBError):
        return exc
    cause = exc.cause if isinstance(exc, NotSent) else exc
    code = _sqlstate(cause)
    if code in _CREDENTIALS:
        return AuthenticationError(
            f"{where} refused the credentials of user {user!r} ({_reason(cause)})"
        )
    if code == "3D000":
        return ConfigurationError(
            f"{where}: database {database!r} does not exist (check POSTGRES_URL)"
        )
    if code == "42501":  # insufficient_privilege
        return AuthenticationError(
            f"{where}: user {user!r} may not {what} ({_reason(cause)}); see the permissions "
            "in docs/providers/postgres.md"
        )
    if ambiguous:
        return outcome_unknown(f"{where}, {what}", _reason(cause))
    if classify(exc if isinstance(exc, Exception) else Exception()) is not Failure.FINAL:
        verb = "is unreachable" if isinstance(exc, NotSent) else "kept failing"
        return BackendUnavailableError(
            f"{where} {verb} ({what}, {attempts} attempts; last: {_reason(cause)})"
        )
    if code == "54000":  # program_limit_exceeded: a value too large for a row or an index
        return DocumentTooLargeError(f"{where} refused {what} as too large ({_reason(cause)})")
    return BackendError(f"{where} failed to {what} ({_reason(cause)})")
