"""Firestore failures as asyncdb errors, and the bounded retry of transient ones.

Only gRPC status codes decide: ``ALREADY_EXISTS`` / ``FAILED_PRECONDITION`` on a
conditional write are conflicts, ``UNAVAILABLE``, ``DEADLINE_EXCEEDED``,
``RESOURCE_EXHAUSTED``, ``ABORTED`` and ``INTERNAL`` are retried with exponential back-off
and full jitter and then reported as ``BackendUnavailableError``. After a deadline, an
unavailable or an internal error the server may have applied the request and only the
answer been lost, so a *write* with such an attempt raises ``WriteOutcomeUnknownError``
instead, when its retries run out as when a conditional retry meets a conflict that may be
the lost attempt's own doing (reads stay ``BackendUnavailableError``). ``PERMISSION_DENIED`` /
``UNAUTHENTICATED`` mean the credentials are refused. Messages carry the status and the
server's text, which never holds a credential (tokens travel in gRPC metadata only).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable
from typing import Final, TypeVar

import anyio
from google.api_core import exceptions as gexc
from google.auth import exceptions as auth_exc

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
    "AMBIGUOUS_CODES",
    "CONFLICT_CODES",
    "TRANSIENT_CODES",
    "Retrier",
    "error_for_status",
    "map_error",
    "outcome_unknown",
]

logger = logging.getLogger("asyncdb")

T = TypeVar("T")

# gRPC status codes (google.rpc.Code), as BatchWrite reports them per write.
OK: Final = 0
DEADLINE_EXCEEDED: Final = 4
NOT_FOUND: Final = 5
ALREADY_EXISTS: Final = 6
PERMISSION_DENIED: Final = 7
RESOURCE_EXHAUSTED: Final = 8
FAILED_PRECONDITION: Final = 9
ABORTED: Final = 10
INTERNAL: Final = 13
UNAVAILABLE: Final = 14
UNAUTHENTICATED: Final = 16
INVALID_ARGUMENT: Final = 3

CONFLICT_CODES: Final = frozenset({ALREADY_EXISTS, FAILED_PRECONDITION})
TRANSIENT_CODES: Final = frozenset(
    {DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, ABORTED, INTERNAL, UNAVAILABLE}
)
#: Per-write statuses after which the write may have been applied.
AMBIGUOUS_CODES: Final = frozenset({DEADLINE_EXCEEDED, INTERNAL, UNAVAILABLE})
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
    if code in (PERMISSION_DENIED, UNAUTHENTICATED):
        return AuthenticationError(f"{where}: Firestore refused the credentials ({message})")
    if code in TRANSIENT_CODES:
        return BackendUnavailableError(f"{where}: Firestore is unavailable ({message})")
    if code == INVALID_ARGUMENT and _is_too_large(message):
        return DocumentTooLargeError(f"{where}: {message}")
    return BackendError(f"{where}: Firestore answered status {code}: {message}")


def _conflict_reason(code: int) -> str:
    if code == ALREADY_EXISTS:
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
        code = ALREADY_EXISTS if isinstance(exc, gexc.AlreadyExists) else FAILED_PRECONDITION
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


class Retrier:
    """Runs one RPC, retrying transient failures ``max_retries`` times with back-off."""

    def __init__(self, max_retries: int, base_delay: float = 0.05, max_delay: float = 5.0) -> None:
        self.max_retries = max_retries
        self.base_delay = base_delay
        self.max_delay = max_delay

    def delay(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2**attempt)]."""
        return random.uniform(0, min(self.max_delay, self.base_delay * 2**attempt))

    async def run(
        self,
        where: str,
        call: Callable[[], Awaitable[T]],
        *,
        write: bool = False,
        conflict_may_be_own: bool = False,
    ) -> T:
        """``await call()``; map its failures; ``BackendUnavailableError`` after retries.

        ``write``: the call changes data, so running out of retries after an ambiguous
        attempt is ``WriteOutcomeUnknownError``. ``conflict_may_be_own``: the call is a
        conditional write, so a conflict after an ambiguous attempt may be that attempt's
        doing (``WriteOutcomeUnknownError`` too).
        """
        result, _ = await self.run_noting_ambiguity(
            where, call, write=write, conflict_may_be_own=conflict_may_be_own
        )
        return result

    async def run_noting_ambiguity(
        self,
        where: str,
        call: Callable[[], Awaitable[T]],
        *,
        write: bool = False,
        conflict_may_be_own: bool = False,
    ) -> tuple[T, bool]:
        """As ``run``, and whether a failed attempt may have been applied before the one
        that answered (a deadline, an unavailable or internal error: the server may have
        committed and the answer been lost)."""
        attempt = 0
        ambiguous = False
        while True:
            try:
                return await call(), ambiguous
            except _TRANSIENT as exc:
                ambiguous = ambiguous or _may_have_been_applied(exc)
                if attempt >= self.max_retries:
                    if write and ambiguous:
                        raise outcome_unknown(where, retries_ran_out=True) from exc
                    raise map_error(exc, where) from exc
                logger.debug("%s: transient %s, retry %d", where, type(exc).__name__, attempt + 1)
            except (gexc.AlreadyExists, gexc.FailedPrecondition) as exc:
                if ambiguous and conflict_may_be_own:
                    raise outcome_unknown(where) from exc
                raise map_error(exc, where) from exc
            except (gexc.GoogleAPIError, auth_exc.GoogleAuthError) as exc:
                raise map_error(exc, where) from exc
            await anyio.sleep(self.delay(attempt))
            attempt += 1


def _may_have_been_applied(exc: Exception) -> bool:
    """Whether a failed attempt may have reached the server and been applied there."""
    if not isinstance(exc, _AMBIGUOUS):
        return False
    # A refused connection is UNAVAILABLE too, but then nothing was ever sent.
    return not (isinstance(exc, gexc.ServiceUnavailable) and _NOT_SENT in str(exc.message))


def outcome_unknown(where: str, *, retries_ran_out: bool = False) -> WriteOutcomeUnknownError:
    """The error of a write that may or may not have been applied."""
    if retries_ran_out:
        return WriteOutcomeUnknownError(
            f"{where}: the write may or may not have been applied: an attempt's answer was "
            "lost in transit and the retries ran out; read the document to see"
        )
    return WriteOutcomeUnknownError(
        f"{where}: the conditional write may or may not have been applied: an attempt was "
        "lost in transit and its retry met a conflict; read the document to see"
    )
