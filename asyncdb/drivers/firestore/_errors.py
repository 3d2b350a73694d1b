"""What the Firestore driver knows about failures: which are transient and whether an
attempt may have been applied (``classify``, ``classify_status``), and which asyncdb error
each becomes (``map_error``, ``error_for_status``, ``final_error``).

Only gRPC status codes decide: ``ALREADY_EXISTS`` / ``FAILED_PRECONDITION`` on a
conditional write are conflicts; ``UNAVAILABLE``, ``DEADLINE_EXCEEDED``,
``RESOURCE_EXHAUSTED``, ``ABORTED`` and ``INTERNAL`` are transient (``asyncdb._retry``
retries them) and then reported as ``BackendUnavailableError``. After a deadline, an
unavailable or an internal error the server may have applied the request and only the
answer been lost (``Failure.AMBIGUOUS``), so a *write* with such an attempt raises
``WriteOutcomeUnknownError`` instead, when its retries run out as when a conditional retry
meets a conflict that may be the lost attempt's own doing (reads stay
``BackendUnavailableError``). ``PERMISSION_DENIED`` / ``UNAUTHENTICATED`` mean the
credentials are refused. Messages carry the status and the server's text, which never
holds a credential (tokens travel in gRPC metadata only).
"""

from __future__ import annotations

from typing import Final

from google.api_core import exceptions as gexc
from google.auth import exceptions as auth_exc
from google.rpc.code_pb2 import Code

from asyncdb import _retry
from asyncdb._retry import Attempts, Failure
from asyncdb.errors import (
    AsyncDBError,
    AuthenticationError,
    BackendError,
    BackendUnavailableError,
    ConflictError,
    DocumentTooLargeError,
    WriteOutcomeUnknownError,
)

__all__ = [
    "CONFLICT_CODES",
    "GOOGLE_ERRORS",
    "classify",
    "classify_status",
    "error_for_status",
    "final_error",
    "map_error",
    "outcome_unknown",
]

# The per-write statuses of BatchWrite (and the codes of its RPC errors) are google.rpc.Code.
CONFLICT_CODES: Final = frozenset({Code.ALREADY_EXISTS, Code.FAILED_PRECONDITION})
TRANSIENT_CODES: Final = frozenset(
    {Code.DEADLINE_EXCEEDED, Code.RESOURCE_EXHAUSTED, Code.ABORTED, Code.INTERNAL, Code.UNAVAILABLE}
)
#: Per-write statuses after which the write may have been applied.
AMBIGUOUS_CODES: Final = frozenset({Code.DEADLINE_EXCEEDED, Code.INTERNAL, Code.UNAVAILABLE})
#: What the client library raises: the failures ``final_error`` translates.
GOOGLE_ERRORS: Final = (gexc.GoogleAPIError, auth_exc.GoogleAuthError)
_TRANSIENT: Final = (
    gexc.ServiceUnavailable,
    gexc.DeadlineExceeded,
    gexc.ResourceExhausted,
    gexc.Aborted,
    gexc.InternalServerError,
    auth_exc.TransportError,
)
#: Transient failures after which the server may still have applied the request.
_AMBIGUOUS: Final = (gexc.DeadlineExceeded, gexc.ServiceUnavailable, gexc.InternalServerError)
_CONFLICTS: Final = (gexc.AlreadyExists, gexc.FailedPrecondition)
#: gRPC's words for a call that never left the client: no connection could be made.
_NOT_SENT: Final = "failed to connect to all addresses"
#: Phrases Firestore uses when a document or request is over its size limits.
_SIZE_HINTS: Final = (
    "too big",
    "too large",
    "exceeds the maximum",
    "maximum allowed size",
    "maximum entity size",
)


def _is_too_large(message: str) -> bool:
    lowered = message.lower()
    return any(hint in lowered for hint in _SIZE_HINTS)


def error_for_status(code: int, message: str, where: str) -> AsyncDBError:
    """The asyncdb error for a per-write gRPC status (BatchWrite answers one per write)."""
    if code in CONFLICT_CODES:
        return ConflictError(f"{where}: {_conflict_reason(code)}")
    if code in (Code.PERMISSION_DENIED, Code.UNAUTHENTICATED):
        return AuthenticationError(f"{where}: Firestore refused the credentials ({message})")
    if code in TRANSIENT_CODES:
        return BackendUnavailableError(f"{where}: Firestore is unavailable ({message})")
    if code == Code.INVALID_ARGUMENT and _is_too_large(message):
        return DocumentTooLargeError(f"{where}: {message}")
    return BackendError(f"{where}: Firestore answered status {code}: {message}")


def _conflict_reason(code: int) -> str:
    if code == Code.ALREADY_EXISTS:
        return "the document already exists"
    return "the document has another revision (or is gone)"


def map_error(exc: Exception, where: str) -> AsyncDBError:
    """The asyncdb error for an exception of the client library (not retried here)."""
    if isinstance(exc, gexc.AlreadyExists | gexc.FailedPrecondition):
        if isinstance(exc, gexc.FailedPrecondition) and "index" in str(exc.message).lower():
            return BackendError(
                f"{where}: Firestore needs a composite index for this query; create it with "
                f"the link in Firestore's message or `gcloud firestore indexes composite "
                f"create` ({exc.message})"
            )
        code = (
            Code.ALREADY_EXISTS if isinstance(exc, gexc.AlreadyExists) else Code.FAILED_PRECONDITION
        )
        return ConflictError(f"{where}: {_conflict_reason(code)}")
    if isinstance(exc, gexc.PermissionDenied | gexc.Unauthenticated):
        return AuthenticationError(f"{where}: Firestore refused the credentials ({exc.message})")
    if isinstance(exc, auth_exc.RefreshError | auth_exc.DefaultCredentialsError):
        return AuthenticationError(f"{where}: the Google credentials are unusable ({exc})")
    if isinstance(exc, _TRANSIENT):
        return BackendUnavailableError(f"{where}: Firestore is unavailable ({_describe(exc)})")
    if isinstance(exc, gexc.InvalidArgument) and _is_too_large(str(exc.message)):
        return DocumentTooLargeError(f"{where}: {exc.message}")
    return BackendError(f"{where}: {_describe(exc)}")


def _describe(exc: Exception) -> str:
    if isinstance(exc, gexc.GoogleAPICallError):
        return f"{type(exc).__name__}: {exc.message}"
    return type(exc).__name__


def classify(exc: Exception) -> Failure:
    """How ``asyncdb._retry.retrying`` treats a failed RPC: transient failures are retried,
    and marked ambiguous when the server may have applied the request."""
    if not isinstance(exc, _TRANSIENT):
        return Failure.FINAL
    return Failure.AMBIGUOUS if _may_have_been_applied(exc) else Failure.NOT_APPLIED


def classify_status(code: int) -> Failure:
    """The same for one write's status in a ``BatchWrite`` answer."""
    if code in AMBIGUOUS_CODES:
        return Failure.AMBIGUOUS
    return Failure.NOT_APPLIED if code in TRANSIENT_CODES else Failure.FINAL


def final_error(
    exc: Exception, where: str, attempts: Attempts | None, *, conflict_may_be_own: bool
) -> AsyncDBError:
    """The asyncdb error for the failure ``retrying`` gave up on. ``attempts`` is given for
    a write: after an ambiguous attempt, running out of retries leaves its outcome unknown,
    and so does a conflict when the write is conditional (``conflict_may_be_own``: the
    lost attempt may have been applied, and its retry met its own write)."""
    ambiguous = attempts is not None and attempts.ambiguous
    if ambiguous and isinstance(exc, _TRANSIENT):
        return outcome_unknown(where, retries_ran_out=True)
    if ambiguous and conflict_may_be_own and isinstance(exc, _CONFLICTS):
        return outcome_unknown(where)
    return map_error(exc, where)


def _may_have_been_applied(exc: Exception) -> bool:
    """Whether a failed attempt may have reached the server and been applied there."""
    if not isinstance(exc, _AMBIGUOUS):
        return False
    # A refused connection is UNAVAILABLE too, but then nothing was ever sent.
    return not (isinstance(exc, gexc.ServiceUnavailable) and _NOT_SENT in str(exc.message))


def outcome_unknown(where: str, *, retries_ran_out: bool = False) -> WriteOutcomeUnknownError:
    """The error of a write that may or may not have been applied: its retries ran out
    after an attempt whose answer was lost, or (``retries_ran_out`` false) a conditional
    retry met a conflict that may be the lost attempt's own doing."""
    if retries_ran_out:
        reason = "its answer was lost in transit, and the retries ran out"
    else:
        reason = "its answer was lost in transit, and a retry met a conflict"
    return _retry.outcome_unknown(where, reason)
