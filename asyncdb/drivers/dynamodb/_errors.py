"""What the DynamoDB driver knows about failures: whether a failed call may be retried
and may have been applied (``classify``), and which asyncdb error it is (``translate``).

Transient failures (throttling, server errors, connection failures, timeouts) are
retried; the rest is mapped once, here. Three outcomes are not errors for the driver but
control flow, so they get private exception types that never leave it: a missing table
(``TableMissing``), a table that is busy being created or deleted (``TableBusy``) and a
failed condition (``ConditionFailed``: the write then asks its ``Attempts`` whether an
earlier attempt of its own may be what the condition met).
"""

from __future__ import annotations

import asyncio
from typing import Any, Final

import aiohttp
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    HTTPClientError,
    NoCredentialsError,
    PartialCredentialsError,
)
from botocore.exceptions import (
    ConnectionError as BotoConnectionError,
)

from asyncdb._retry import Failure
from asyncdb.errors import (
    AuthenticationError,
    BackendError,
    BackendUnavailableError,
    DocumentTooLargeError,
)

__all__ = [
    "ConditionFailed",
    "TableBusy",
    "TableMissing",
    "classify",
    "error_code",
    "leaves_outcome_open",
    "translate",
    "where",
]

#: Error codes worth another attempt after a pause.
TRANSIENT_CODES: Final = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "Throttling",
        "RequestLimitExceeded",
        "InternalServerError",
        "InternalFailure",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "LimitExceededException",  # control plane: too many tables being created at once
        "TransactionInProgressException",
    }
)

#: Error codes that mean the credentials were refused.
AUTH_CODES: Final = frozenset(
    {
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "AccessDeniedException",
        "MissingAuthenticationTokenException",
        "MissingAuthenticationToken",
        "ExpiredTokenException",
        "ExpiredToken",
        "IncompleteSignatureException",
        "InvalidClientTokenId",
        "SignatureDoesNotMatch",
        "AuthFailure",
    }
)


class TableMissing(Exception):
    """The table does not exist (``ResourceNotFoundException``)."""


class TableBusy(Exception):
    """The table is being created or deleted (``ResourceInUseException``)."""


class ConditionFailed(Exception):
    """``ConditionalCheckFailedException``: the write's condition did not hold."""

    def __init__(self) -> None:
        super().__init__("the conditional request failed")


def error_code(exc: ClientError) -> str:
    """The DynamoDB error code of a ``ClientError`` (without any ``namespace#`` prefix)."""
    code = str(exc.response.get("Error", {}).get("Code", ""))
    return code.rpartition("#")[2]


def _status(exc: ClientError) -> int:
    metadata: dict[str, Any] = exc.response.get("ResponseMetadata", {})
    status = metadata.get("HTTPStatusCode", 0)
    return status if isinstance(status, int) else 0


def _transient(exc: BaseException) -> bool:
    """Whether another attempt of the same call may succeed."""
    if isinstance(exc, ClientError):
        return error_code(exc) in TRANSIENT_CODES or _status(exc) >= 500
    transient = HTTPClientError | BotoConnectionError | asyncio.TimeoutError | OSError
    return isinstance(exc, transient) or (type(exc).__module__.startswith("aiohttp"))


def _ambiguous(exc: BaseException) -> bool:
    """Whether the failed attempt may nevertheless have been applied by the server."""
    if isinstance(exc, ClientError):
        return _status(exc) >= 500  # "the request may or may not have succeeded"
    if isinstance(exc, ConnectTimeoutError):
        return False  # no connection: nothing was sent
    if isinstance(exc, EndpointConnectionError):
        # aiobotocore maps both a refused connect and a reset after sending to this one;
        # only the former proves that the request never left.
        return not isinstance(exc.kwargs.get("error"), aiohttp.ClientConnectorError)
    return True  # no answer: the request may have arrived


def _condition_failed(exc: BaseException) -> bool:
    """Whether ``exc`` is DynamoDB's answer that a write's condition did not hold."""
    return isinstance(exc, ClientError) and error_code(exc) == "ConditionalCheckFailedException"


def classify(exc: Exception) -> Failure:
    """How ``asyncdb._retry.retrying`` treats a failed attempt: a failed condition is an
    answer, not a failure (never retried); a transient failure is retried, and marks the
    write ambiguous when the server may have applied it."""
    if _condition_failed(exc) or not _transient(exc):
        return Failure.FINAL
    return Failure.AMBIGUOUS if _ambiguous(exc) else Failure.NOT_APPLIED


def leaves_outcome_open(error: Exception) -> bool:
    """Whether a final error leaves an earlier ambiguous attempt's fate open: running out
    of retries does, and so do refused credentials (they may have expired in between); a
    request the server refuses as invalid would have been refused the first time too."""
    return isinstance(error, BackendUnavailableError | AuthenticationError)


def where(operation: str, table: str) -> str:
    """A call named for messages and log lines (no secret, no document content)."""
    return f"DynamoDB {operation} on table {table!r}" if table else f"DynamoDB {operation}"


def translate(exc: BaseException, operation: str, table: str) -> Exception:
    """The exception to raise for a failure that will not be retried (or ran out); for
    ``ConditionalCheckFailedException``, ``ConditionFailed``."""
    call = where(operation, table)
    if isinstance(exc, ClientError):
        code = error_code(exc)
        if code == "ConditionalCheckFailedException":
            return ConditionFailed()
        if code == "ResourceNotFoundException":
            return TableMissing(table)
        if code == "ResourceInUseException":
            return TableBusy(table)
        if code in AUTH_CODES:
            # The server's message may quote the access key id or the string to sign: omit it.
            return AuthenticationError(f"{call} was refused: {code} (check the AWS credentials)")
        message = str(exc.response.get("Error", {}).get("Message", ""))
        if code == "ValidationException" and "item size" in message.lower():
            return DocumentTooLargeError(f"{call}: {message}")
        if _transient(exc):
            return BackendUnavailableError(f"{call} kept failing: {code} ({message})")
        return BackendError(f"{call} failed: {code}: {message}")
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return AuthenticationError(
            f"{call}: no usable AWS credentials (set AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or another source of the AWS credential chain)"
        )
    if _transient(exc):
        return BackendUnavailableError(f"{call} could not reach DynamoDB: {type(exc).__name__}")
    return BackendError(f"{call} failed: {type(exc).__name__}")
