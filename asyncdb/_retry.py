"""The one retry policy: bounded attempts, full-jitter back-off, and the record of whether
an earlier attempt of a write may have landed.

Every driver retries through ``retrying``. A driver contributes only ``classify``: for each
failure, whether it is ``Failure.NOT_APPLIED`` (transient, and the backend certainly did not
apply the request: retrying is safe), ``Failure.AMBIGUOUS`` (transient, but the request may
have been applied: retrying is still allowed, and the write is marked) or ``Failure.FINAL``
(not retried). What a driver then does with a write whose attempts were ambiguous — read
back, or raise ``WriteOutcomeUnknownError`` — stays the driver's, because only it knows how
to tell whether its write landed; ``Attempts`` is what it asks.
"""

from __future__ import annotations

import enum
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import anyio

from asyncdb.errors import WriteOutcomeUnknownError

__all__ = ["Attempts", "Failure", "RetryPolicy", "outcome_unknown", "retrying"]

logger = logging.getLogger("asyncdb")

T = TypeVar("T")


class Failure(enum.Enum):
    """How a driver classifies one failed attempt."""

    NOT_APPLIED = "not applied"
    AMBIGUOUS = "ambiguous"
    FINAL = "final"


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a transient failure is retried.

    ``max_retries`` is ``DATABASE_MAX_RETRIES``: a call makes at most ``max_retries + 1``
    attempts. The wait before retry ``n`` (from 0) is drawn uniformly from
    ``[0, min(max_delay, base_delay * 2**n)]`` ("full jitter"), so that many clients failing
    together do not come back together.
    """

    max_retries: int = 4
    base_delay: float = 0.05
    max_delay: float = 5.0

    def delay(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (0 for the first retry)."""
        # The exponent is capped so that a long-running batch loop cannot overflow a float.
        ceiling = min(self.max_delay, self.base_delay * 2 ** min(retry, 32))
        return random.uniform(0, ceiling)

    async def back_off(self, retry: int) -> None:
        """Sleep for ``delay(retry)``: for loops of their own (unprocessed batch items)."""
        await anyio.sleep(self.delay(retry))


class Attempts:
    """What the attempts of one write have shown so far.

    One instance follows one logical write across every call made for it (a re-send after a
    table was created, a read-back), so an ambiguity seen by the first call is still known
    to the last.
    """

    __slots__ = ("ambiguous", "count")

    def __init__(self) -> None:
        self.ambiguous = False
        self.count = 0

    def __repr__(self) -> str:
        return f"Attempts(count={self.count}, ambiguous={self.ambiguous})"


async def retrying(
    call: Callable[[], Awaitable[T]],
    *,
    classify: Callable[[Exception], Failure],
    policy: RetryPolicy,
    attempts: Attempts | None = None,
    what: str = "request",
) -> T:
    """``await call()``, retried under ``policy`` while ``classify`` calls its failures
    transient. The last failure is re-raised unchanged (the driver translates it); before
    that, ``attempts`` (when given: the call is a write) has been marked ambiguous if any
    attempt may have been applied.

    ``what`` names the call in the debug log line of each retry; it must hold no secret and
    no document content.
    """
    retry = 0
    while True:
        if attempts is not None:
            attempts.count += 1
        try:
            return await call()
        except Exception as exc:
            failure = classify(exc)
            if failure is Failure.FINAL:
                raise
            if failure is Failure.AMBIGUOUS and attempts is not None:
                attempts.ambiguous = True
            if retry >= policy.max_retries:
                raise
            delay = policy.delay(retry)
            retry += 1
            logger.debug(
                "%s failed (%s); retry %d in %.3fs", what, type(exc).__name__, retry, delay
            )
            await anyio.sleep(delay)


def outcome_unknown(where: str, reason: str) -> WriteOutcomeUnknownError:
    """The error for a write whose attempts may have landed but could not be confirmed.

    One wording for every driver: ``where`` names the backend and the operation (no
    secret), ``reason`` says why the outcome could not be learnt.
    """
    return WriteOutcomeUnknownError(
        f"{where}: an attempt may have been applied, and the write could not be confirmed "
        f"({reason}); read the document to see whether it landed"
    )
