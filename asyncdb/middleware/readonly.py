"""``ReadOnlyMiddleware``: a driver that refuses every write before any I/O.

For a reporting replica, an ``asyncdb serve`` that must only answer reads, or a migration
dry run: the face and everything above it work unchanged, and a write raises
``ReadOnlyError`` (403) without reaching the backend.

What is a read is listed here, and everything else is refused: an operation added to the
driver ABC later is a write until it is listed, so that a new method cannot write
through a read-only service by omission.
"""

from __future__ import annotations

from typing import TypeVar

from asyncdb.drivers.base import Driver
from asyncdb.errors import ReadOnlyError
from asyncdb.middleware.base import DriverCall, DriverWrapper, Proceed

__all__ = ["READ_OPERATIONS", "ReadOnlyError", "ReadOnlyMiddleware"]

T = TypeVar("T")

#: The driver operations that pass: reads, and the lifecycle calls (they write nothing).
#: ``ensure_index`` is not among them: it creates an index (a CouchDB design document,
#: a DynamoDB index) on the backend.
READ_OPERATIONS = frozenset(
    {"open", "aclose", "ping", "get", "scan", "get_many", "find", "list_collections"}
)


class ReadOnlyMiddleware(DriverWrapper):
    """Passes reads to ``inner``; every other operation raises ``ReadOnlyError``."""

    def __init__(self, inner: Driver) -> None:
        super().__init__(inner)

    async def around(self, call: DriverCall[T], proceed: Proceed[T]) -> T:
        if call.operation not in READ_OPERATIONS:
            raise ReadOnlyError(call.operation, call.collection)
        return await proceed(call)

    def describe(self) -> str:
        return f"{self.inner.describe()} (read-only)"
