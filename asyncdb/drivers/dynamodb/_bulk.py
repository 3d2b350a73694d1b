"""The bulk fast paths of the DynamoDB driver: BatchGetItem and BatchWriteItem.

Writes with a precondition cannot go through BatchWriteItem (it has no conditions): they
are single conditional writes, ``write_concurrency`` at a time. Every outcome belongs to
its own document: a request is marked done when DynamoDB processed it, and an error only
ever goes to the requests still pending. A pending request that was part of a call whose
answer was lost is ``WriteOutcomeUnknownError``, never a plain unavailable.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Final, TypeVar

from asyncdb._retry import Attempts
from asyncdb.drivers.base import (
    Body,
    DeleteRequest,
    Record,
    WriteOutcome,
    WriteRequest,
)
from asyncdb.drivers.dynamodb._codec import ID_ATTRIBUTE
from asyncdb.drivers.dynamodb._errors import TableMissing
from asyncdb.drivers.dynamodb._items import build_item, key, new_rev, record
from asyncdb.drivers.dynamodb._registry import Registry
from asyncdb.drivers.dynamodb._tables import Tables
from asyncdb.drivers.dynamodb._transport import Transport
from asyncdb.errors import (
    AsyncDBError,
    BackendUnavailableError,
    DocumentTooLargeError,
    WriteOutcomeUnknownError,
)

__all__ = ["BATCH_GET_KEYS", "BATCH_WRITE_ITEMS", "BulkOperations"]

T = TypeVar("T")

#: DynamoDB's own limits on one batch call.
BATCH_GET_KEYS: Final = 100
BATCH_WRITE_ITEMS: Final = 25

Chunk = list[tuple[int, dict[str, Any]]]


class BulkOperations:
    """get_many / put_many / delete_many for ``DynamoDBDriver`` (a mixin)."""

    _transport: Transport
    _tables: Tables
    _registry: Registry
    _write_concurrency: int

    async def _write(
        self, table: str, attempt: Callable[[], Awaitable[T]], *, create: bool = True
    ) -> T:
        raise NotImplementedError

    async def put(
        self,
        collection: str,
        doc_id: str,
        body: Body,
        *,
        if_rev: str | None = None,
        if_absent: bool = False,
    ) -> str:
        raise NotImplementedError

    async def delete(self, collection: str, doc_id: str, *, if_rev: str | None = None) -> bool:
        raise NotImplementedError

    # -- reads -----------------------------------------------------------------------------
    async def get_many(self, collection: str, ids: Sequence[str]) -> dict[str, Record]:
        unique = list(dict.fromkeys(ids))
        found: dict[str, Record] = {}
        for start in range(0, len(unique), BATCH_GET_KEYS):
            keys = [key(doc_id) for doc_id in unique[start : start + BATCH_GET_KEYS]]
            try:
                await self._batch_get(collection, keys, found)
            except TableMissing:
                return {}
        return found

    async def _batch_get(
        self, table: str, keys: list[dict[str, Any]], found: dict[str, Record]
    ) -> None:
        stalls = 0
        while keys:
            response = await self._transport.call(
                "batch_get_item",
                table,
                {"RequestItems": {table: {"Keys": keys, "ConsistentRead": True}}},
            )
            for item in response.get("Responses", {}).get(table, ()):
                got = record(item)
                if got is not None:
                    found[got.id] = got
            left = response.get("UnprocessedKeys", {}).get(table, {}).get("Keys", [])
            stalls = stalls + 1 if len(left) >= len(keys) else 0
            if left and stalls > self._transport.policy.max_retries:
                raise BackendUnavailableError(
                    f"DynamoDB left {len(left)} keys of table {table!r} unprocessed "
                    f"{stalls} times in a row"
                )
            if left:
                await self._transport.policy.back_off(stalls)
            keys = left

    # -- writes ----------------------------------------------------------------------------
    async def put_many(self, collection: str, writes: Sequence[WriteRequest]) -> list[WriteOutcome]:
        outcomes = [WriteOutcome(write.id) for write in writes]
        plain: Chunk = []
        guarded: list[int] = []
        # The keys of every index the table has (conditional writes go through ``put``,
        # which asks the registry itself: it is read at most once per refresh period).
        indexes = (await self._registry.current(collection)).indexes()
        for index, write in enumerate(writes):
            if write.if_rev is not None or write.if_absent:
                guarded.append(index)
                continue
            rev = new_rev()
            outcomes[index].rev = rev
            item = build_item(write.id, write.body, rev, indexes)
            plain.append((index, {"PutRequest": {"Item": item}}))

        async def single(index: int, *, conditional: bool) -> None:
            write = writes[index]
            try:
                outcomes[index].rev = await self.put(
                    collection,
                    write.id,
                    write.body,
                    if_rev=write.if_rev if conditional else None,
                    if_absent=write.if_absent and conditional,
                )
            except AsyncDBError as exc:
                outcomes[index].rev, outcomes[index].error = None, exc

        async def batch(chunk: Chunk) -> None:
            attempts = Attempts()
            try:
                await self._write(
                    collection, lambda: self._batch_write(collection, chunk, outcomes, attempts)
                )
                self._tables.add(collection)
            except TableMissing:
                _fail(chunk, outcomes, _vanished(collection))
            except DocumentTooLargeError:
                # DynamoDB refuses the whole batch for one item: find which, one by one.
                await self._bounded([single(index, conditional=False) for index, _ in chunk])
            except AsyncDBError as exc:
                _fail(chunk, outcomes, exc)

        chunks = [plain[i : i + BATCH_WRITE_ITEMS] for i in range(0, len(plain), BATCH_WRITE_ITEMS)]
        jobs = [batch(chunk) for chunk in chunks]
        jobs += [single(index, conditional=True) for index in guarded]
        await self._bounded(jobs)
        return outcomes

    async def delete_many(
        self, collection: str, deletes: Sequence[DeleteRequest]
    ) -> list[WriteOutcome]:
        outcomes = [WriteOutcome(request.id) for request in deletes]
        plain: Chunk = [
            (index, {"DeleteRequest": {"Key": key(request.id)}})
            for index, request in enumerate(deletes)
            if request.if_rev is None
        ]

        async def guarded_delete(index: int) -> None:
            request = deletes[index]
            try:
                await self.delete(collection, request.id, if_rev=request.if_rev)
            except AsyncDBError as exc:
                outcomes[index].error = exc

        async def batch(chunk: Chunk) -> None:
            try:
                await self._batch_write(collection, chunk, outcomes, Attempts())
            except TableMissing:
                pass  # nothing (left) to delete
            except AsyncDBError as exc:
                _fail(chunk, outcomes, exc)

        chunks = [plain[i : i + BATCH_WRITE_ITEMS] for i in range(0, len(plain), BATCH_WRITE_ITEMS)]
        guarded = [i for i, request in enumerate(deletes) if request.if_rev is not None]
        jobs = [batch(chunk) for chunk in chunks] + [guarded_delete(i) for i in guarded]
        await self._bounded(jobs)
        return outcomes

    async def _batch_write(
        self, table: str, chunk: Chunk, outcomes: list[WriteOutcome], attempts: Attempts
    ) -> None:
        """One BatchWriteItem of at most 25 requests, retrying what DynamoDB left over.

        ``chunk`` shrinks to the requests still pending, so that whatever the caller does
        after an exception concerns those only. Requests still unprocessed after the bound
        fail alone: ``WriteOutcomeUnknownError`` if an earlier call holding them lost its
        answer, else ``BackendUnavailableError``.
        """
        stalls = 0
        while chunk:
            pending = [request for _, request in chunk]
            response = await self._transport.call(
                "batch_write_item", table, {"RequestItems": {table: pending}}, attempts=attempts
            )
            left = response.get("UnprocessedItems", {}).get(table, [])
            left_keys = {_request_key(request) for request in left}
            chunk[:] = [entry for entry in chunk if _request_key(entry[1]) in left_keys]
            if not chunk:
                return
            stalls = stalls + 1 if len(left) >= len(pending) else 0
            if stalls > self._transport.policy.max_retries:
                reason = f"DynamoDB left the write unprocessed {stalls} times in a row (throttled)"
                error: BackendUnavailableError = (
                    WriteOutcomeUnknownError(f"{reason}, after an attempt whose answer was lost")
                    if attempts.ambiguous
                    else BackendUnavailableError(reason)
                )
                _fail(chunk, outcomes, error)
                chunk.clear()
                return
            await self._transport.policy.back_off(stalls)

    async def _bounded(self, jobs: Sequence[Awaitable[None]]) -> None:
        """Run ``jobs`` with at most ``write_concurrency`` of them in flight."""
        if len(jobs) == 1:
            await jobs[0]
            return
        semaphore = asyncio.Semaphore(self._write_concurrency)

        async def limited(job: Awaitable[None]) -> None:
            async with semaphore:
                await job

        await asyncio.gather(*(limited(job) for job in jobs))


def _fail(chunk: Chunk, outcomes: list[WriteOutcome], error: AsyncDBError) -> None:
    for index, _ in chunk:
        outcomes[index].rev, outcomes[index].error = None, error


def _request_key(request: dict[str, Any]) -> str:
    put = request.get("PutRequest")
    item = put["Item"] if put is not None else request["DeleteRequest"]["Key"]
    return str(item[ID_ATTRIBUTE]["S"])


def _vanished(collection: str) -> BackendUnavailableError:
    return BackendUnavailableError(
        f"DynamoDB table {collection!r} disappeared again right after it was created"
    )
