"""``off_loop``: a driver's blocking set-up work (building a client from its data files,
loading TLS certificates, reading credentials) run in a worker thread, so that the event
loop keeps serving every other task while a driver opens.

The work runs on the loop's default executor (``loop.run_in_executor``) rather than
through ``anyio.to_thread.run_sync``: anyio imports its asyncio backend on its first use,
which blocks the loop for 50-60 ms, more than the whole start-up budget
(docs/performance/loop-lag.md). Only work that touches no event loop object may run here:
an aiohttp session, a gRPC channel or an asyncio lock belong to the loop that made them.

If the awaiting task is cancelled, the work still runs to its end in its thread and its
result is dropped: it must be something that is safe to drop (an object not yet holding
a connection), never a write.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable
from typing import TypeVar

__all__ = ["off_loop"]

T = TypeVar("T")


async def off_loop(work: Callable[[], T]) -> T:
    """``work()`` in a worker thread (with the caller's context variables); its result or
    its exception."""
    context = contextvars.copy_context()
    return await asyncio.get_running_loop().run_in_executor(None, context.run, work)
