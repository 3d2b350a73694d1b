"""``Retrier``: what every driver's transport does with a call — attempt it under the one
retry policy (``asyncdb._retry.retrying``) with the driver's classification of failures,
then give the failure it gives up on to the driver to say what it means.

Only the last word differs between drivers (which exceptions are the backend's, how they
become asyncdb errors, when a write's fate is unknown): ``final``. It raises the asyncdb
error that stands for the exception (chained as the driver chooses, ``from exc`` or
``from None``), or returns to let the exception through unchanged.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from asyncdb._retry import Attempts, Failure, RetryPolicy, retrying

__all__ = ["Retrier"]

T = TypeVar("T")


class Retrier:
    """One transport's policy and its driver's classification of failures."""

    __slots__ = ("classify", "policy")

    def __init__(self, policy: RetryPolicy, classify: Callable[[Exception], Failure]) -> None:
        self.policy = policy
        self.classify = classify

    async def run(
        self,
        attempt: Callable[[], Awaitable[T]],
        *,
        what: str,
        final: Callable[[Exception], None],
        attempts: Attempts | None = None,
    ) -> T:
        """``await attempt()`` retried while ``classify`` calls its failures transient; the
        last failure goes through ``final``. ``attempts`` marks a write (see ``retrying``);
        ``what`` names the call in the retry log (no secret, no document content)."""
        try:
            return await retrying(
                attempt, classify=self.classify, policy=self.policy, attempts=attempts, what=what
            )
        except Exception as exc:
            final(exc)
            raise
