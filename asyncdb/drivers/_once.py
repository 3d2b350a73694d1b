"""``OpenedOnce``: a driver's connection (or client, or pool), opened by the first call that
needs it; concurrent first calls wait for that one opening instead of each opening their
own."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

__all__ = ["OpenedOnce"]

T = TypeVar("T")


class OpenedOnce(Generic[T]):
    """Holds what ``get`` opened (or was given) until ``take`` hands it back for closing."""

    __slots__ = ("_lock", "_value")

    def __init__(self, value: T | None = None) -> None:
        self._value = value
        # Made on first use, inside the event loop that uses the driver.
        self._lock: asyncio.Lock | None = None

    async def get(self, open_: Callable[[], Awaitable[T]]) -> T:
        """The value, opened with ``open_()`` by the first caller while the others wait."""
        if self._value is not None:
            return self._value
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._value is None:
                self._value = await open_()
            return self._value

    async def close(self, close: Callable[[T], Awaitable[object]]) -> None:
        """``await close(value)`` for the value held, if any, no longer held here: the next
        ``get`` opens again."""
        value = self.take()
        if value is not None:
            await close(value)

    def take(self) -> T | None:
        """The value, or ``None``, no longer held here: the next ``get`` opens again."""
        value, self._value = self._value, None
        return value
