"""What every call of the face passes through before it reaches the driver: the service
must be open, it must be called from the event loop it runs on, and unexpected driver
exceptions become ``BackendError``.

A service is bound to one event loop: the first one that uses it. Its driver's
connections, locks and client sessions belong to that loop; awaiting them from another
loop hangs or fails deep inside a client library. So a call from another loop is refused
at once, with ``WrongEventLoopError``, and drivers need no per-loop bookkeeping.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import sys
import threading
from collections.abc import Callable, Coroutine
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

from asyncdb.errors import (
    AsyncDBError,
    BackendError,
    ServiceClosedError,
    WrongEventLoopError,
    first_error,
)

__all__ = ["LoopBinding", "WrongEventLoopError", "current_loop", "guarded"]

logger = logging.getLogger("asyncdb")

P = ParamSpec("P")
R = TypeVar("R")


def current_loop() -> object | None:
    """The event loop running in this thread (an asyncio loop, or trio's token), or
    ``None`` outside any loop."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        trio = sys.modules.get("trio")  # only if the application uses trio at all
        if trio is None:
            return None
        try:
            token: object = trio.lowlevel.current_trio_token()
        except RuntimeError:
            return None
        return token


class LoopBinding:
    """Remembers the first event loop that uses its owner and refuses every other one."""

    __slots__ = ("_loop", "_owner")

    # Binding happens once per service; a lock there keeps two loops racing for a fresh
    # service from both believing they won.
    _binding = threading.Lock()

    def __init__(self, owner: str) -> None:
        self._owner = owner
        self._loop: object | None = None

    @property
    def bound(self) -> bool:
        """Whether a loop has used the owner yet."""
        return self._loop is not None

    def check(self) -> None:
        """Bind to the running loop if unbound; raise ``WrongEventLoopError`` if the
        owner is bound to another one. Cheap: it runs on every call."""
        loop = current_loop()
        if loop is self._loop or loop is None:
            return
        if self._loop is None:
            with self._binding:
                if self._loop is None:
                    self._loop = loop
                    return
            if loop is self._loop:
                return
        raise WrongEventLoopError(
            f"{self._owner} was called from another event loop than the one it runs on; "
            "its connections belong to that loop. Use one service per event loop: create "
            "it in the loop that uses it, or call SyncDatabaseService from threads "
            "instead of starting a loop of your own."
        )


class Guarded(Protocol):
    """What ``guarded`` needs of the service it guards (``DatabaseService``'s state)."""

    _closed: bool
    _loop_binding: LoopBinding
    _description: str


S = TypeVar("S", bound=Guarded)


def guarded(
    method: Callable[Concatenate[S, P], Coroutine[Any, Any, R]],
) -> Callable[Concatenate[S, P], Coroutine[Any, Any, R]]:
    """Refuse calls on a closed service or from another event loop, and turn unexpected
    driver exceptions into ``BackendError`` with the cause chained: callers catch one
    hierarchy.

    A call with wrong arguments is a programming error, not a backend failure: building
    the coroutine binds the arguments, so its ``TypeError`` is raised unchanged, outside
    the shaping."""

    @functools.wraps(method)
    async def shaped(self: S, /, *args: P.args, **kwargs: P.kwargs) -> R:
        call = method(self, *args, **kwargs)
        try:
            if self._closed:
                raise ServiceClosedError("this DatabaseService has been closed")
            self._loop_binding.check()
        except AsyncDBError:
            call.close()  # never awaited: close it, or Python warns about it
            raise
        try:
            try:
                return await call
            except BaseExceptionGroup as group:
                # Concurrent chunks run in task groups: surface the error that matters.
                raise first_error(group) from None
        except AsyncDBError:
            raise
        except Exception as exc:
            logger.warning("%s failed on %s: %s", method.__name__, self._description, type(exc))
            raise BackendError(
                f"{method.__name__} failed on {self._description}: {type(exc).__name__}"
            ) from exc

    return shaped
