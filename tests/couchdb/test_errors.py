"""``_errors``: which failures the one retry policy retries, which of them may have been
applied (a write after them is ambiguous), and which asyncdb error an answer becomes.
No server: the transport's behaviour over a real one is in test_driver.py and
test_writes_under_faults.py."""

from __future__ import annotations

import pytest
from aiohttp import (
    ClientConnectorError,
    ClientOSError,
    ClientPayloadError,
    ConnectionTimeoutError,
    ServerDisconnectedError,
    SocketTimeoutError,
)
from aiohttp.client_reqrep import ConnectionKey

from asyncdb._retry import Failure
from asyncdb.drivers.couchdb._errors import TransientStatus, classify, status_error
from asyncdb.drivers.couchdb._transport import Reply
from asyncdb.errors import (
    AuthenticationError,
    BackendError,
    BackendUnavailableError,
    DocumentTooLargeError,
)


def _reply(status: int) -> Reply:
    return Reply(status, {}, {"error": "e", "reason": "r"})


def _refused() -> ClientConnectorError:
    key = ConnectionKey("127.0.0.1", 1, False, True, None, None, None, None)
    return ClientConnectorError(key, ConnectionRefusedError(111, "refused"))


@pytest.mark.parametrize("status", [408, 429, 503])
def test_statuses_that_say_the_server_did_not_act_are_retried_as_not_applied(
    status: int,
) -> None:
    assert classify(TransientStatus(_reply(status))) is Failure.NOT_APPLIED


@pytest.mark.parametrize("status", [500, 502, 504])
def test_statuses_after_which_the_server_may_have_acted_are_ambiguous(status: int) -> None:
    assert classify(TransientStatus(_reply(status))) is Failure.AMBIGUOUS


def test_a_request_that_never_reached_the_server_is_not_applied() -> None:
    assert classify(_refused()) is Failure.NOT_APPLIED
    assert classify(ConnectionTimeoutError()) is Failure.NOT_APPLIED


@pytest.mark.parametrize(
    "exc",
    [
        ServerDisconnectedError(),
        ClientOSError(104, "reset"),
        ClientPayloadError("cut off"),
        SocketTimeoutError(),
        TimeoutError(),
    ],
)
def test_a_lost_answer_is_ambiguous(exc: Exception) -> None:
    assert classify(exc) is Failure.AMBIGUOUS


@pytest.mark.parametrize("exc", [ValueError("bad"), RuntimeError("Session is closed")])
def test_anything_else_is_final(exc: Exception) -> None:
    assert classify(exc) is Failure.FINAL


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (401, AuthenticationError),
        (403, AuthenticationError),
        (413, DocumentTooLargeError),
        (503, BackendUnavailableError),
        (502, BackendUnavailableError),
        (400, BackendError),
    ],
)
def test_a_refused_answer_becomes_the_asyncdb_error_for_it(
    status: int, error: type[Exception]
) -> None:
    found = status_error("CouchDB at http://h:1", "app", "GET /db/x", _reply(status), 3)
    assert type(found) is error
    assert "CouchDB at http://h:1" in str(found) and "e: r" in str(found)
