"""How a failed DynamoDB call is classified: retry it, or which asyncdb error it is.

The driver retries only what is transient (throttling, server errors, connection
failures, timeouts) and maps the rest once, here. Two outcomes are not errors for the
driver but control flow, so they get private exception types that never leave it: a
missing table (``TableMissing``) and a table that is busy being created or deleted
(``TableBusy``). A failed condition is a ``ConditionFailed`` so that a write can tell
whether an earlier, ambiguous attempt of its own may have landed.
"""

from __future__ import annotations

import asyncio
import random
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

from asyncdb.errors import (
    AuthenticationError,
    BackendError,
    BackendUnavailableError,
    DocumentTooLargeError,
)

__all__ = [
    "Attempts",
    "ConditionFailed",
    "TableBusy",
    "TableMissing",
    "backoff_delay",
    "error_code",
    "is_ambiguous",
    "is_transient",
    "translate",
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


class Attempts:
    """The attempts of one write, over every call it makes (a write into a missing table
    is sent again after the table is created): ``ambiguous`` once any of them failed in a
    way that may have applied it."""

    __slots__ = ("ambiguous",)

    def __init__(self) -> None:
        self.ambiguous = False


class ConditionFailed(Exception):
    """``ConditionalCheckFailedException``; ``after_ambiguous`` when an earlier attempt of the
    same call failed in a way that may have applied it (a timeout, a dropped connection)."""

    def __init__(self, after_ambiguous: bool) -> None:
        super().__init__("the conditional request failed")
        self.after_ambiguous = after_ambiguous


def error_code(exc: ClientError) -> str:
    """The DynamoDB error code of a ``ClientError`` (without any ``namespace#`` prefix)."""
    code = str(exc.response.get("Error", {}).get("Code", ""))
    return code.rpartition("#")[2]


def _status(exc: ClientError) -> int:
    metadata: dict[str, Any] = exc.response.get("ResponseMetadata", {})
    status = metadata.get("HTTPStatusCode", 0)
    return status if isinstance(status, int) else 0


def is_transient(exc: BaseException) -> bool:
    """Whether another attempt of the same call may succeed."""
    if isinstance(exc, ClientError):
        return error_code(exc) in TRANSIENT_CODES or _status(exc) >= 500
    transient = HTTPClientError | BotoConnectionError | asyncio.TimeoutError | OSError
    return isinstance(exc, transient) or (type(exc).__module__.startswith("aiohttp"))


def is_ambiguous(exc: BaseException) -> bool:
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


def translate(exc: BaseException, operation: str, table: str) -> Exception:
    """The exception to raise for a failure that will not be retried (or ran out)."""
    where = f"DynamoDB {operation} on table {table!r}" if table else f"DynamoDB {operation}"
    if isinstance(exc, ClientError):
        code = error_code(exc)
        if code == "ResourceNotFoundException":
            return TableMissing(table)
        if code == "ResourceInUseException":
            return TableBusy(table)
        if code in AUTH_CODES:
            # The server's message may quote the access key id or the string to sign: omit it.
            return AuthenticationError(f"{where} was refused: {code} (check the AWS credentials)")
        message = str(exc.response.get("Error", {}).get("Message", ""))
        if code == "ValidationException" and "item size" in message.lower():
            return DocumentTooLargeError(f"{where}: {message}")
        if is_transient(exc):
            return BackendUnavailableError(f"{where} kept failing: {code} ({message})")
        return BackendError(f"{where} failed: {code}: {message}")
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return AuthenticationError(
            f"{where}: no usable AWS credentials (set AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or another source of the AWS credential chain)"
        )
    if is_transient(exc):
        return BackendUnavailableError(f"{where} could not reach DynamoDB: {type(exc).__name__}")
    return BackendError(f"{where} failed: {type(exc).__name__}")


def backoff_delay(attempt: int, base: float, cap: float) -> float:
    """Full-jitter exponential back-off: uniform in [0, min(cap, base * 2**attempt)]."""
    return random.uniform(0.0, min(cap, base * (2**attempt)))
