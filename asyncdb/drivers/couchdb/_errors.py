"""What the CouchDB driver knows about failures: which ones a retry may cure and whether the
failed attempt may have been applied (``classify``), and how a CouchDB answer or a lost
write becomes an asyncdb error.

A reply with a transient status is a value, not an exception, in aiohttp; the transport
raises ``TransientStatus`` for it inside the retried call, so that ``classify`` sees every
failure in one place.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

import aiohttp

from asyncdb._retry import Failure
from asyncdb.errors import (
    AsyncDBError,
    AuthenticationError,
    BackendError,
    BackendUnavailableError,
    ConflictError,
    DocumentTooLargeError,
    WriteOutcomeUnknownError,
)

if TYPE_CHECKING:
    from asyncdb.drivers.couchdb._transport import Reply

__all__ = [
    "CONNECTION_FAILURES",
    "NOT_APPLIED_STATUSES",
    "NOT_SENT",
    "TRANSIENT_STATUSES",
    "TransientStatus",
    "bulk_error",
    "classify",
    "lost_races",
    "outcome_unknown",
    "raise_if_unknown",
    "reason_of",
    "status_error",
    "unknown",
    "unreachable",
]

#: Statuses worth another attempt: the server or something in front of it is overloaded.
TRANSIENT_STATUSES: Final = frozenset({408, 429, 500, 502, 503, 504})
#: Of those, the ones that say the server did not act on the request.
NOT_APPLIED_STATUSES: Final = frozenset({408, 429, 503})
#: Failures that happen before a request reaches the server.
NOT_SENT: Final = (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError)
#: Failures of the connection or of reading the answer: retried, and after the last retry
#: reported as an unreachable server.
CONNECTION_FAILURES: Final = (
    aiohttp.ClientConnectionError,
    aiohttp.ClientPayloadError,
    TimeoutError,
)


class TransientStatus(Exception):
    """A reply whose status is in ``TRANSIENT_STATUSES``, raised inside the retried call.
    It never leaves the transport: when the retries run out it becomes ``status_error``."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(f"HTTP {reply.status}")
        self.reply = reply


def classify(exc: Exception) -> Failure:
    """Whether ``exc`` is worth a retry, and whether the failed attempt may have landed."""
    if isinstance(exc, TransientStatus):
        if exc.reply.status in NOT_APPLIED_STATUSES:
            return Failure.NOT_APPLIED
        return Failure.AMBIGUOUS  # 500/502/504: the server may have acted first
    if isinstance(exc, NOT_SENT):
        return Failure.NOT_APPLIED
    if isinstance(exc, CONNECTION_FAILURES):
        # The request may have reached the server and been applied; only the answer is lost.
        return Failure.AMBIGUOUS
    return Failure.FINAL


def reason_of(data: Any) -> str:
    """CouchDB's ``error: reason`` from an error body, for messages."""
    if isinstance(data, dict):
        error, reason = data.get("error"), data.get("reason")
        if error or reason:
            return f"{error}: {reason}"
    return "no reason given"


def status_error(
    where: str, user: str | None, request: str, reply: Reply, attempts: int
) -> AsyncDBError:
    """The error for a reply the caller did not accept. ``where`` names the server (no
    credentials), ``request`` is ``METHOD path`` without the query string."""
    status = reply.status
    reason = reason_of(reply.data)
    if status in (401, 403):
        return AuthenticationError(
            f"{where} refused the credentials of user {user!r} "
            f"(HTTP {status} on {request}: {reason})"
        )
    if status == 413:
        return DocumentTooLargeError(f"{where} refused a request as too large: {reason}")
    if status in TRANSIENT_STATUSES:
        return BackendUnavailableError(
            f"{where} kept failing (HTTP {status} on {request}, {attempts} attempts): {reason}"
        )
    return BackendError(f"{where} answered HTTP {status} to {request}: {reason}")


def unreachable(where: str, request: str, attempts: int, exc: Exception) -> str:
    """The message for a request whose connection failed on every attempt."""
    return f"{where} is unreachable after {attempts} attempts ({type(exc).__name__}: {request})"


def unknown(message: str) -> WriteOutcomeUnknownError:
    """A write whose retries ran out after an attempt the server may have applied."""
    return WriteOutcomeUnknownError(
        f"{message}; an attempt may have been applied, so the outcome of this write is "
        "unknown: read the document to see"
    )


def outcome_unknown(collection: str, doc_id: str) -> WriteOutcomeUnknownError:
    """A conditional write that met a conflict after an attempt that may have landed: the
    conflict may be that attempt's own doing."""
    return WriteOutcomeUnknownError(
        f"the conditional write of {doc_id!r} in {collection!r} may or may not have been "
        "applied: an attempt was lost in transit and its retry met a conflict; read the "
        "document to see"
    )


def raise_if_unknown(
    maybe_applied: bool, exc: BackendUnavailableError, collection: str, doc_id: str
) -> None:
    """Raise ``WriteOutcomeUnknownError`` instead of ``exc`` if an earlier request of this
    write may have been applied (its answer was lost) and the failure leaves that open."""
    if maybe_applied and not isinstance(exc, WriteOutcomeUnknownError):
        raise WriteOutcomeUnknownError(
            f"the write of {doc_id!r} in {collection!r} may or may not have been applied: "
            f"an attempt was lost in transit, then {exc}; read the document to see"
        ) from exc


def bulk_error(doc_id: str, result: dict[str, Any]) -> AsyncDBError:
    """The error of one refused row of a ``_bulk_docs`` answer."""
    error, reason = result.get("error"), result.get("reason")
    if error == "conflict":
        return ConflictError(f"document {doc_id!r}: revision conflict")
    if error in ("too_large", "document_too_large"):
        return DocumentTooLargeError(f"CouchDB refused document {doc_id!r} as too large")
    if error in ("unauthorized", "forbidden"):
        return AuthenticationError(f"CouchDB refused to write {doc_id!r}: {error}: {reason}")
    return BackendError(f"CouchDB refused document {doc_id!r}: {error}: {reason}")


def lost_races(verb: str, collection: str, doc_id: str, attempts: int) -> ConflictError:
    """A write that kept meeting a newer revision than the one it had just read."""
    return ConflictError(
        f"{verb} {doc_id!r} in {collection!r} lost {attempts} races to concurrent writers; "
        "giving up"
    )
