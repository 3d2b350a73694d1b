"""The DynamoDB driver's error knowledge without a server: how each kind of failed attempt
is classified for the one retry policy, and which asyncdb error a final one becomes. The
proxy tests (test_driver.py, test_lost_answers.py) show the same rules on the wire; these
pin the cases a proxy cannot produce (a refused connection versus a reset after sending,
a connect timeout versus a read timeout)."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)

from asyncdb._retry import Failure
from asyncdb.drivers.dynamodb._errors import (
    ConditionFailed,
    TableBusy,
    TableMissing,
    classify,
    leaves_outcome_open,
    translate,
)
from asyncdb.errors import (
    AuthenticationError,
    BackendError,
    BackendUnavailableError,
    DocumentTooLargeError,
)


def _client_error(code: str, status: int, message: str = "") -> ClientError:
    response: Any = {
        "Error": {"Code": f"com.amazonaws.dynamodb.v20120810#{code}", "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, "PutItem")


def _refused() -> EndpointConnectionError:
    key = aiohttp.client_reqrep.ConnectionKey("127.0.0.1", 1, False, True, None, None, None)
    cause = aiohttp.ClientConnectorError(key, ConnectionRefusedError(111, "refused"))
    return EndpointConnectionError(endpoint_url="http://127.0.0.1:1", error=cause)


def _reset() -> EndpointConnectionError:
    cause = aiohttp.ServerDisconnectedError()
    return EndpointConnectionError(endpoint_url="http://127.0.0.1:1", error=cause)


@pytest.mark.parametrize(
    ("exc", "failure"),
    [
        # An answer, not a failure: never retried (the write asks its Attempts instead).
        (_client_error("ConditionalCheckFailedException", 400), Failure.FINAL),
        (_client_error("ValidationException", 400, "Item size has exceeded"), Failure.FINAL),
        (_client_error("ResourceNotFoundException", 400), Failure.FINAL),
        (_client_error("UnrecognizedClientException", 400), Failure.FINAL),
        # Refused before any work: retry, and nothing was applied.
        (_client_error("ThrottlingException", 400), Failure.NOT_APPLIED),
        (_client_error("ProvisionedThroughputExceededException", 400), Failure.NOT_APPLIED),
        (_refused(), Failure.NOT_APPLIED),
        (ConnectTimeoutError(endpoint_url="http://127.0.0.1:1"), Failure.NOT_APPLIED),
        # "The request may or may not have succeeded": retry, and the write is ambiguous.
        (_client_error("InternalServerError", 500), Failure.AMBIGUOUS),
        (_client_error("SomethingNew", 503), Failure.AMBIGUOUS),
        (_reset(), Failure.AMBIGUOUS),
        (ReadTimeoutError(endpoint_url="http://127.0.0.1:1"), Failure.AMBIGUOUS),
        (TimeoutError(), Failure.AMBIGUOUS),
        (aiohttp.ServerDisconnectedError(), Failure.AMBIGUOUS),
        (NoCredentialsError(), Failure.FINAL),
        (ValueError("a bug"), Failure.FINAL),
    ],
)
def test_each_failed_attempt_is_classified(exc: Exception, failure: Failure) -> None:
    assert classify(exc) is failure


@pytest.mark.parametrize(
    ("exc", "error"),
    [
        (_client_error("ConditionalCheckFailedException", 400), ConditionFailed),
        (_client_error("ResourceNotFoundException", 400), TableMissing),
        (_client_error("ResourceInUseException", 400), TableBusy),
        (_client_error("ExpiredTokenException", 400), AuthenticationError),
        (NoCredentialsError(), AuthenticationError),
        (
            _client_error("ValidationException", 400, "Item size has exceeded"),
            DocumentTooLargeError,
        ),
        (_client_error("ThrottlingException", 400), BackendUnavailableError),
        (_reset(), BackendUnavailableError),
        (_client_error("ValidationException", 400, "bad expression"), BackendError),
    ],
)
def test_a_final_failure_is_translated(exc: Exception, error: type[Exception]) -> None:
    translated = translate(exc, "PutItem", "docs")
    assert type(translated) is error
    if isinstance(translated, BackendError):
        assert "DynamoDB PutItem on table 'docs'" in str(translated)


def test_only_unavailability_and_refused_credentials_leave_an_ambiguous_write_open() -> None:
    assert leaves_outcome_open(BackendUnavailableError("kept failing"))
    assert leaves_outcome_open(AuthenticationError("expired in between"))
    assert not leaves_outcome_open(DocumentTooLargeError("refused the first time too"))
    assert not leaves_outcome_open(BackendError("invalid request"))
    assert not leaves_outcome_open(ConditionFailed())
