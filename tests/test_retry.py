"""The one retry policy (asyncdb._retry): bounded attempts, full jitter, ambiguity."""

from __future__ import annotations

import random

import anyio
import pytest

from asyncdb._retry import Attempts, Failure, RetryPolicy, outcome_unknown, retrying
from asyncdb.errors import WriteOutcomeUnknownError


class Flaky:
    """Fails with the given exceptions in turn, then answers ``"done"``."""

    def __init__(self, *failures: Exception) -> None:
        self.failures = list(failures)
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return "done"


class NotSent(Exception):
    pass


class Lost(Exception):
    pass


class Refused(Exception):
    pass


def classify(exc: Exception) -> Failure:
    if isinstance(exc, NotSent):
        return Failure.NOT_APPLIED
    if isinstance(exc, Lost):
        return Failure.AMBIGUOUS
    return Failure.FINAL


FAST = RetryPolicy(max_retries=3, base_delay=0.0, max_delay=0.0)


async def test_a_transient_failure_is_retried_until_it_answers() -> None:
    call = Flaky(NotSent(), NotSent())
    assert await retrying(call, classify=classify, policy=FAST) == "done"
    assert call.calls == 3


async def test_retries_are_bounded_by_max_retries_and_the_last_failure_is_raised() -> None:
    call = Flaky(*(NotSent(str(n)) for n in range(10)))
    with pytest.raises(NotSent, match="3"):
        await retrying(call, classify=classify, policy=FAST)
    assert call.calls == FAST.max_retries + 1


async def test_no_retries_at_all_with_max_retries_zero() -> None:
    call = Flaky(NotSent())
    with pytest.raises(NotSent):
        await retrying(call, classify=classify, policy=RetryPolicy(max_retries=0))
    assert call.calls == 1


async def test_a_final_failure_is_not_retried() -> None:
    call = Flaky(Refused(), NotSent())
    with pytest.raises(Refused):
        await retrying(call, classify=classify, policy=FAST)
    assert call.calls == 1


async def test_an_ambiguous_attempt_marks_the_write_even_when_a_retry_then_succeeds() -> None:
    attempts = Attempts()
    assert await retrying(Flaky(Lost()), classify=classify, policy=FAST, attempts=attempts)
    assert attempts.ambiguous and attempts.count == 2


async def test_attempts_that_certainly_did_not_apply_leave_the_write_unmarked() -> None:
    attempts = Attempts()
    await retrying(Flaky(NotSent(), NotSent()), classify=classify, policy=FAST, attempts=attempts)
    assert not attempts.ambiguous and attempts.count == 3


async def test_one_attempts_record_follows_a_write_across_calls() -> None:
    attempts = Attempts()
    await retrying(Flaky(Lost()), classify=classify, policy=FAST, attempts=attempts)
    with pytest.raises(Refused):
        await retrying(Flaky(Refused()), classify=classify, policy=FAST, attempts=attempts)
    assert attempts.ambiguous and attempts.count == 3


def test_the_back_off_is_full_jitter_under_an_exponential_ceiling() -> None:
    random.seed(7)
    policy = RetryPolicy(max_retries=9, base_delay=0.1, max_delay=1.0)
    for retry, ceiling in [(0, 0.1), (1, 0.2), (2, 0.4), (3, 0.8), (4, 1.0), (60, 1.0)]:
        delays = [policy.delay(retry) for _ in range(300)]
        assert all(0 <= delay <= ceiling for delay in delays)
        # full jitter: spread over the whole range, not bunched at the ceiling
        assert min(delays) < ceiling * 0.1 and max(delays) > ceiling * 0.9


async def test_the_waits_between_attempts_are_the_policys(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []

    async def record(delay: float) -> None:
        slept.append(delay)

    monkeypatch.setattr(anyio, "sleep", record)
    policy = RetryPolicy(max_retries=5, base_delay=1.0, max_delay=3.0)
    await retrying(Flaky(NotSent(), NotSent(), NotSent()), classify=classify, policy=policy)
    assert len(slept) == 3
    assert all(delay <= ceiling for delay, ceiling in zip(slept, [1.0, 2.0, 3.0], strict=True))


def test_the_outcome_unknown_error_names_where_and_why() -> None:
    error = outcome_unknown("CouchDB PUT /db/doc", "retries ran out")
    assert isinstance(error, WriteOutcomeUnknownError)
    assert "CouchDB PUT /db/doc" in str(error) and "retries ran out" in str(error)
    assert "may have been applied" in str(error)
