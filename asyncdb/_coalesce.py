"""Coalescing: concurrent single-document calls on one service become one native batch.

``CoalescingDriver`` wraps the backend's driver. A ``get``, or a ``put`` without
precondition (``save`` without ``_rev``: last writer wins), does not go out at once: it
joins the pending batch of its collection, and the first call of a batch schedules its
flush with ``loop.call_soon``. Every call made in the same event-loop iteration (32 tasks
started by one ``gather``, say) is then in the batch, which goes out as the driver's
``get_many`` / ``put_many`` (CouchDB ``_all_docs`` / ``_bulk_docs``, BatchGetItem /
BatchWriteItem, BatchGetDocuments / BatchWrite, SQL ``IN`` / multi-row). No timer: a call
that is alone is handed back to its caller, which makes the plain single call in its own
task, exactly as without coalescing, one loop iteration later.

Every caller gets what it would have got alone: its own record or ``None``, its own
revision or its document's error from ``WriteOutcome.error`` (the drivers' bulk code
already retries unprocessed items and reports a lost answer as
``WriteOutcomeUnknownError`` per document), or the exception of the whole batch. Batches
are cut at ``limits.max_get_batch`` / ``max_write_batch``. Two writes of one id never
share a batch: the later one goes in the next round, sent after the first round's answer,
so the order of arrival is kept. Conditional writes (``if_rev``, ``if_absent``) and every
other operation pass straight through. The batch runs in a task of its own, so that a
cancelled caller cancels nobody else's call: its slot is dropped if the batch has not gone
out yet, otherwise its answer is discarded (a write already sent may have happened, as a
cancelled single write may have).

Where it sits: ``DatabaseService`` installs it *under* the innermost middleware
(``install``), so middleware (statistics, hooks, read-only, the conformance suite's call
recorder) still sees the calls the application made, one ``get`` or ``put`` each, and
only the backend sees batches. It is off for drivers that do no I/O
(``Driver.coalesce_worthwhile``: the memory driver) and, per operation, for drivers whose
``get_many`` / ``put_many`` is the portable default (concurrent single calls: nothing to
gain, and a failure would no longer be the caller's alone). Under trio (no asyncio loop)
calls pass straight through.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Generic, TypeVar

from asyncdb.drivers.base import Body, Driver, Record, WriteOutcome, WriteRequest
from asyncdb.errors import BackendError
from asyncdb.middleware.base import DriverWrapper

__all__ = ["CoalescingDriver", "install"]

logger = logging.getLogger("asyncdb")

T = TypeVar("T")
Loop = asyncio.AbstractEventLoop


class _Alone:
    """What a caller's future holds when its call turned out to be the only one: the
    caller then makes the single call itself."""


_ALONE: Final = _Alone()


@dataclass(slots=True)
class _Slot(Generic[T]):
    """One caller's place in a batch: what it asked for, and where its answer goes."""

    doc_id: str
    future: asyncio.Future[T | _Alone]
    body: Body = field(default_factory=dict)


class CoalescingDriver(DriverWrapper):
    """Gathers concurrent ``get`` and unconditional ``put`` calls into native batches.

    ``batches`` and ``batched_calls`` count the batches sent and the calls they carried
    (for tests and benchmarks; cheap integers)."""

    def __init__(self, inner: Driver) -> None:
        super().__init__(inner)
        base = type(inner)
        self._gets_native = base.get_many is not Driver.get_many
        self._puts_native = base.put_many is not Driver.put_many
        self._gets: dict[tuple[Loop, str], list[_Slot[Record | None]]] = {}
        self._puts: dict[tuple[Loop, str], list[_Slot[str]]] = {}
        self._running: set[asyncio.Task[None]] = set()  # strong references until done
        self.batches = 0
        self.batched_calls = 0

    def __getattr__(self, name: str) -> Any:
        # Reached only for what this class lacks: the backend driver's own attributes (its
        # transport, a native method), so that middleware or code reaching through the
        # chain to the driver still finds them with the coalescer in between.
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)

    # -- the two coalesced operations ------------------------------------------------------
    async def get(self, collection: str, doc_id: str) -> Record | None:
        loop = _running_loop() if self._gets_native else None
        if loop is None:
            return await self.inner.get(collection, doc_id)
        answer = await self._join(self._gets, self._flush_gets, loop, collection, doc_id, {})
        if isinstance(answer, _Alone):
            return await self.inner.get(collection, doc_id)
        return answer

    async def put(
        self,
        collection: str,
        doc_id: str,
        body: Body,
        *,
        if_rev: str | None = None,
        if_absent: bool = False,
    ) -> str:
        loop = _running_loop() if self._puts_native else None
        if loop is None or if_rev is not None or if_absent:
            # A precondition stays a single call: DynamoDB cannot batch one, and no
            # backend's batch is needed to keep a conditional write exact.
            return await self.inner.put(
                collection, doc_id, body, if_rev=if_rev, if_absent=if_absent
            )
        answer = await self._join(self._puts, self._flush_puts, loop, collection, doc_id, body)
        if isinstance(answer, _Alone):
            return await self.inner.put(collection, doc_id, body)
        return answer

    # -- gathering -------------------------------------------------------------------------
    async def _join(
        self,
        pending: dict[tuple[Loop, str], list[_Slot[T]]],
        flush: Callable[[tuple[Loop, str]], None],
        loop: Loop,
        collection: str,
        doc_id: str,
        body: Body,
    ) -> T | _Alone:
        key = (loop, collection)
        slots = pending.get(key)
        if slots is None:
            slots = pending[key] = []
            # After every callback already queued: the tasks started with this one (by
            # one gather or task group) all reach this point before the flush runs.
            loop.call_soon(flush, key)
        future: asyncio.Future[T | _Alone] = loop.create_future()
        slots.append(_Slot(doc_id, future, body))
        return await future

    def _take(
        self, pending: dict[tuple[Loop, str], list[_Slot[T]]], key: tuple[Loop, str]
    ) -> list[_Slot[T]] | None:
        """The live slots of the batch ``key`` (cancelled callers dropped), or ``None``
        when at most one is left: that one (if any) is told to go alone."""
        slots = [slot for slot in pending.pop(key, []) if not slot.future.done()]
        if len(slots) > 1:
            return slots
        if slots:
            slots[0].future.set_result(_ALONE)
        return None

    def _start(
        self, loop: Loop, work: Coroutine[Any, Any, None], slots: Sequence[_Slot[Any]]
    ) -> None:
        task = loop.create_task(_answering(work, slots))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    def _flush_gets(self, key: tuple[Loop, str]) -> None:
        slots = self._take(self._gets, key)
        if slots is None:
            return
        loop, collection = key
        self._count(len(slots))
        size = max(1, self.inner.limits.max_get_batch)
        by_id: dict[str, list[_Slot[Record | None]]] = {}
        for slot in slots:
            by_id.setdefault(slot.doc_id, []).append(slot)
        ids = list(by_id)
        for start in range(0, len(ids), size):
            chunk = [slot for doc_id in ids[start : start + size] for slot in by_id[doc_id]]
            self._start(loop, self._get_batch(collection, chunk), chunk)

    def _flush_puts(self, key: tuple[Loop, str]) -> None:
        slots = self._take(self._puts, key)
        if slots is None:
            return
        loop, collection = key
        self._count(len(slots))
        # Rounds: each holds an id once; a later write of an id goes in a later round.
        rounds: list[list[_Slot[str]]] = []
        seen: dict[str, int] = {}
        for slot in slots:
            index = seen.get(slot.doc_id, -1) + 1
            seen[slot.doc_id] = index
            if index == len(rounds):
                rounds.append([])
            rounds[index].append(slot)
        self._start(loop, self._put_rounds(collection, rounds), slots)

    def _count(self, calls: int) -> None:
        self.batches += 1
        self.batched_calls += calls
        logger.debug("asyncdb coalesced %d calls on %s", calls, self.inner.name)

    # -- sending ---------------------------------------------------------------------------
    async def _get_batch(self, collection: str, slots: list[_Slot[Record | None]]) -> None:
        ids = list(dict.fromkeys(slot.doc_id for slot in slots))
        found: dict[str, Record]
        if len(ids) == 1:  # one id asked several times: its plain read
            one = await _settle(slots, self.inner.get(collection, ids[0]))
            if one is None:
                return
            found = {} if one[0] is None else {ids[0]: one[0]}
        else:
            many = await _settle(slots, self.inner.get_many(collection, ids))
            if many is None:
                return
            found = many[0]
        errors: dict[str, BaseException] = {}
        missing = [doc_id for doc_id in ids if doc_id not in found]
        if missing and self.inner.get_many_skips_unreadable:
            # This backend's get_many leaves out a stored row it cannot read, where get
            # raises: a missing id is read alone, so its caller gets get's own answer.
            answers = await asyncio.gather(
                *(self.inner.get(collection, doc_id) for doc_id in missing),
                return_exceptions=True,
            )
            for doc_id, answer in zip(missing, answers, strict=True):
                if isinstance(answer, Record):
                    found[doc_id] = answer
                elif isinstance(answer, BaseException):
                    errors[doc_id] = answer
        given: set[str] = set()
        for slot in slots:
            if slot.future.done():
                continue
            error = errors.get(slot.doc_id)
            if error is not None:
                _fail(slot.future, error)
                continue
            record = found.get(slot.doc_id)
            if record is not None and slot.doc_id in given:
                # Every caller owns the body it gets: a second caller of one id gets a copy.
                record = Record(record.id, record.rev, copy.deepcopy(record.body))
            given.add(slot.doc_id)
            slot.future.set_result(record)

    async def _put_rounds(self, collection: str, rounds: list[list[_Slot[str]]]) -> None:
        for slots in rounds:
            await self._put_round(collection, slots)

    async def _put_round(self, collection: str, slots: list[_Slot[str]]) -> None:
        if len(slots) == 1:
            slot = slots[0]
            rev = await _settle(slots, self.inner.put(collection, slot.doc_id, slot.body))
            if rev is not None and not slot.future.done():
                slot.future.set_result(rev[0])
            return
        size = max(1, self.inner.limits.max_write_batch)
        chunks = [slots[i : i + size] for i in range(0, len(slots), size)]
        await asyncio.gather(*(self._put_chunk(collection, chunk) for chunk in chunks))

    async def _put_chunk(self, collection: str, slots: list[_Slot[str]]) -> None:
        writes = [WriteRequest(slot.doc_id, slot.body) for slot in slots]
        got = await _settle(slots, self.inner.put_many(collection, writes))
        if got is None:
            return
        outcomes: list[WriteOutcome] = got[0]
        if len(outcomes) != len(slots):
            error = BackendError(
                f"{self.inner.name} answered {len(outcomes)} outcomes for {len(slots)} writes"
            )
            for slot in slots:
                _fail(slot.future, error)
            return
        for slot, outcome in zip(slots, outcomes, strict=True):
            if slot.future.done():
                continue
            if outcome.error is not None:
                _fail(slot.future, outcome.error)
            elif outcome.rev is None:
                _fail(slot.future, BackendError(f"no revision for {slot.doc_id!r}"))
            else:
                slot.future.set_result(outcome.rev)


async def _answering(work: Coroutine[Any, Any, None], slots: Sequence[_Slot[Any]]) -> None:
    """Run a batch; whatever happens, no caller is left waiting: a slot the batch did not
    answer gets the batch's exception (or is cancelled with it)."""
    try:
        await work
    except asyncio.CancelledError:
        for slot in slots:
            slot.future.cancel()
        raise
    except Exception as exc:  # noqa: BLE001 - a bug of ours: each caller gets it, none hangs
        logger.warning("asyncdb: a coalesced batch failed unexpectedly: %s", type(exc))
        for slot in slots:
            _fail(slot.future, exc)
    finally:
        for slot in slots:
            _fail(slot.future, BackendError("the coalesced batch ended without an answer"))


async def _settle(slots: Sequence[_Slot[Any]], call: Awaitable[T]) -> tuple[T] | None:
    """``(result,)`` of ``call``; ``None`` after its exception went to every slot (the
    failure of the whole batch is each caller's failure, as it would have been alone)."""
    try:
        return (await call,)
    except asyncio.CancelledError:
        # Only the loop shutting down cancels a batch task: its callers go with it.
        for slot in slots:
            slot.future.cancel()
        raise
    except BaseException as exc:  # handed to each caller, who raises it
        for slot in slots:
            _fail(slot.future, exc)
        if not isinstance(exc, Exception):
            raise
        return None


def _fail(future: asyncio.Future[Any], error: BaseException) -> None:
    if not future.done():
        future.set_exception(error)


def _running_loop() -> Loop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def install(driver: Driver) -> Driver:
    """``driver`` with a ``CoalescingDriver`` innermost, right over the backend's driver,
    when its backend does I/O (``Driver.coalesce_worthwhile``).

    A middleware chain keeps its identity: the coalescer becomes the innermost wrapper's
    ``inner``, so every middleware still sees the application's single calls. A chain
    that already holds one (a driver shared by two services) is returned as it is.
    """
    outer: DriverWrapper | None = None
    current = driver
    while isinstance(current, DriverWrapper):
        if isinstance(current, CoalescingDriver):
            return driver
        outer, current = current, current.inner
    if not isinstance(current, Driver) or not current.coalesce_worthwhile:
        return driver
    coalescing = CoalescingDriver(current)
    if outer is None:
        return coalescing
    outer.inner = coalescing
    return driver
