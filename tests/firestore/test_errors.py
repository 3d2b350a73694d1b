# google.api_core's exceptions are untyped.
# mypy: disable-error-code="no-untyped-call"
"""The Firestore driver's error knowledge: how ``asyncdb._retry`` is told to treat each
failure (``classify``, ``classify_status``) and the error a failure that was given up on
becomes (``final_error``). No server needed."""

from __future__ import annotations

import pytest
from google.api_core import exceptions as gexc
from google.auth import exceptions as auth_exc
from google.rpc.code_pb2 import Code

from asyncdb._retry import Attempts, Failure
from asyncdb.drivers.firestore import _errors
from asyncdb.errors import (
    AuthenticationError,
    BackendError,
    BackendUnavailableError,
    ConflictError,
    WriteOutcomeUnknownError,
)


@pytest.mark.parametrize(
    ("exc", "failure"),
    [
        (gexc.DeadlineExceeded("late"), Failure.AMBIGUOUS),
        (gexc.ServiceUnavailable("connection reset"), Failure.AMBIGUOUS),
        (gexc.InternalServerError("oops"), Failure.AMBIGUOUS),
        # A refused connection is UNAVAILABLE too, but nothing was sent.
        (gexc.ServiceUnavailable("failed to connect to all addresses"), Failure.NOT_APPLIED),
        (gexc.ResourceExhausted("quota"), Failure.NOT_APPLIED),
        (gexc.Aborted("contention"), Failure.NOT_APPLIED),
        (auth_exc.TransportError("metadata server"), Failure.NOT_APPLIED),
        (gexc.FailedPrecondition("stale"), Failure.FINAL),
        (gexc.AlreadyExists("taken"), Failure.FINAL),
        (gexc.InvalidArgument("bad"), Failure.FINAL),
        (gexc.PermissionDenied("no"), Failure.FINAL),
        (ValueError("not Google's"), Failure.FINAL),
    ],
)
def test_classify(exc: Exception, failure: Failure) -> None:
    assert _errors.classify(exc) is failure


@pytest.mark.parametrize(
    ("code", "failure"),
    [
        (Code.DEADLINE_EXCEEDED, Failure.AMBIGUOUS),
        (Code.UNAVAILABLE, Failure.AMBIGUOUS),
        (Code.INTERNAL, Failure.AMBIGUOUS),
        (Code.RESOURCE_EXHAUSTED, Failure.NOT_APPLIED),
        (Code.ABORTED, Failure.NOT_APPLIED),
        (Code.ALREADY_EXISTS, Failure.FINAL),
        (Code.FAILED_PRECONDITION, Failure.FINAL),
        (Code.INVALID_ARGUMENT, Failure.FINAL),
    ],
)
def test_classify_status(code: int, failure: Failure) -> None:
    assert _errors.classify_status(code) is failure


def _attempts(*, ambiguous: bool) -> Attempts:
    attempts = Attempts()
    attempts.ambiguous = ambiguous
    return attempts


def test_a_write_that_ran_out_after_an_ambiguous_attempt_is_unknown() -> None:
    error = _errors.final_error(
        gexc.ResourceExhausted("quota"),
        "put a/b",
        _attempts(ambiguous=True),
        conflict_may_be_own=False,
    )
    assert isinstance(error, WriteOutcomeUnknownError)
    assert "retries ran out" in str(error) and "put a/b" in str(error)


@pytest.mark.parametrize("attempts", [None, _attempts(ambiguous=False)], ids=["read", "write"])
def test_running_out_without_an_ambiguous_attempt_is_unavailable(
    attempts: Attempts | None,
) -> None:
    error = _errors.final_error(
        gexc.DeadlineExceeded("late"), "get a/b", attempts, conflict_may_be_own=True
    )
    assert isinstance(error, BackendUnavailableError)
    assert not isinstance(error, WriteOutcomeUnknownError)


@pytest.mark.parametrize("exc", [gexc.FailedPrecondition("stale"), gexc.AlreadyExists("taken")])
def test_a_conflict_after_an_ambiguous_attempt_is_unknown_only_when_conditional(
    exc: Exception,
) -> None:
    ambiguous = _attempts(ambiguous=True)
    own = _errors.final_error(exc, "put a/b", ambiguous, conflict_may_be_own=True)
    assert isinstance(own, WriteOutcomeUnknownError)
    assert "conflict" in str(own)
    plain = _errors.final_error(exc, "put a/b", ambiguous, conflict_may_be_own=False)
    assert isinstance(plain, ConflictError)
    clean = _errors.final_error(
        exc, "put a/b", _attempts(ambiguous=False), conflict_may_be_own=True
    )
    assert isinstance(clean, ConflictError)


def test_other_failures_keep_their_translation() -> None:
    refused = _errors.final_error(
        gexc.PermissionDenied("no"), "get a/b", _attempts(ambiguous=True), conflict_may_be_own=True
    )
    assert isinstance(refused, AuthenticationError)
    odd = _errors.final_error(
        gexc.InvalidArgument("bad"), "get a/b", None, conflict_may_be_own=False
    )
    assert type(odd) is BackendError and "bad" in str(odd)
