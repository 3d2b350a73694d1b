"""``CallRecorder``: middleware that records every driver call, so a test can prove that
invalid input was refused before any I/O."""

from __future__ import annotations

from typing import TypeVar

from asyncdb.drivers.base import Driver
from asyncdb.middleware.base import DriverCall, DriverWrapper, Proceed

__all__ = ["CallRecorder"]

T = TypeVar("T")


class CallRecorder(DriverWrapper):
    """Records ``(operation, collection)`` for every data call that reaches the driver.

    A data call is one on a collection: ``open``, ``aclose``, ``ping`` and
    ``list_collections`` are not recorded (the face may open the driver before a refusal,
    to learn its limits, and that is no data I/O). ``collections`` is every collection a
    call named, so a test can drop what it touched.
    """

    def __init__(self, inner: Driver) -> None:
        super().__init__(inner)
        self.calls: list[tuple[str, str]] = []
        self.collections: set[str] = set()

    async def around(self, call: DriverCall[T], proceed: Proceed[T]) -> T:
        if call.collection is not None:
            self.calls.append((call.operation, call.collection))
            self.collections.add(call.collection)
        return await proceed(call)
