"""``find`` and ``can_find`` of the DynamoDB driver: from an index where one is ready,
else from a Scan with a filter expression.

A query a ready index serves (``_bytekeys.best_plan``, the partition components fixed by
equality) is one Query on the index's GSI per key range (``$in`` makes several, merged by
``read_plan``): ``pk = :p AND sk BETWEEN :lo AND :hi``, backwards when the order is
descending, paged lazily.

A GSI read is eventually consistent (DynamoDB refuses ``ConsistentRead`` on one), so each
page's rows are read again from the table with a consistent BatchGetItem, and a row is
kept only if its item still exists and still holds the key the index showed: a returned
document is current, in its place and re-checked against the query. What the index has
not caught up with yet on AWS (a document written a moment ago, or moved by a change) may
be missing from that answer; moto and dynalite update a GSI with the write.

A row whose item holds a key that is not its document's (a writer that did not keep the
index) raises ``StaleKey``: the query is then answered from the filter and ordered here,
with one WARNING per table. So is a query whose index has vanished (a stale registry
after a drop).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, Final

from asyncdb._query import Query
from asyncdb.drivers._bytekeys import BytePlan, ByteRange, StaleKey, best_plan, read_plan
from asyncdb.drivers._keyplan import KeyLayout
from asyncdb.drivers.base import FirstTimes, Record, ordered_from_filter, scan_matching
from asyncdb.drivers.dynamodb._bulk import BATCH_GET_KEYS
from asyncdb.drivers.dynamodb._codec import ID_ATTRIBUTE
from asyncdb.drivers.dynamodb._errors import TableMissing
from asyncdb.drivers.dynamodb._items import record
from asyncdb.drivers.dynamodb._query import build_filter
from asyncdb.drivers.dynamodb._registry import CONSTANT_PARTITION, KEY_BUDGET, Index, Registry
from asyncdb.drivers.dynamodb._transport import Transport
from asyncdb.errors import BackendError, BackendUnavailableError

__all__ = ["NativeQueries", "choose_plan"]

logger = logging.getLogger("asyncdb")

#: Rows per Query page after the first: ten BatchGetItems of 100 keys, sent together.
_NEXT_PAGES: Final = 1000

Rows = Sequence[tuple[bytes, Record]]


class _IndexGone(Exception):
    """The GSI a plan reads is not there (a registry older than a drop)."""


def _fixed(count: int) -> Callable[[KeyLayout], int]:
    """``min_fixed`` for ``best_plan``: the index's partition components."""
    return lambda _layout: count


def choose_plan(indexes: Sequence[Index], query: Query) -> tuple[Index, BytePlan] | None:
    """The index that narrows the read of ``query`` most, and its plan (ties: by name)."""
    chosen: tuple[tuple[Any, ...], Index, BytePlan] | None = None
    for index in indexes:
        plan = best_plan(
            [index.layout], query, budget=KEY_BUDGET, min_fixed=_fixed(index.partition)
        )
        if plan is None:
            continue
        rank = (plan.fixed + plan.bounded, -len(index.layout.components), index.name)
        if chosen is None or rank > chosen[0]:
            chosen = (rank, index, plan)
    return None if chosen is None else (chosen[1], chosen[2])


class NativeQueries:
    """``can_find`` / ``find`` for ``DynamoDBDriver`` (a mixin)."""

    _transport: Transport
    _registry: Registry
    _find_page_size: int
    _stale_warned: FirstTimes

    def can_find(self, collection: str, query: Query) -> bool:
        """A query a ready index of the cached registry serves, or an unordered equality
        query (the Scan filter). No I/O: the first ``find`` on a table loads its registry."""
        snapshot = self._registry.cached(collection)
        if snapshot is not None and choose_plan(snapshot.indexes(ready_only=True), query):
            return True
        return query.simple

    async def find(self, collection: str, query: Query, limit: int | None) -> list[Record]:
        snapshot = await self._registry.current(collection)
        chosen = choose_plan(snapshot.indexes(ready_only=True), query)
        if chosen is not None:
            index, plan = chosen
            read = self._reader(collection, index, limit)
            try:
                return await read_plan(plan, query, limit, read, budget=KEY_BUDGET)
            except StaleKey as stale:
                self._warn_fallback(
                    collection,
                    f"the index key of document {stale.doc_id!r} is not its key (a writer "
                    "that did not keep the index); saving the document through asyncdb repairs it",
                )
            except _IndexGone:
                self._registry.forget(collection)
                self._warn_fallback(collection, f"its index {index.gsi} is gone")
        if query.simple:
            return await self._scan_find(collection, query, limit)
        return await ordered_from_filter(query, limit, lambda q, n: self._filter(collection, q, n))

    async def _filter(self, collection: str, query: Query, limit: int | None) -> list[Record]:
        """The conditions alone: the Scan filter when it can express them, else a scan
        checked here."""
        if query.simple:
            return await self._scan_find(collection, query, limit)
        return await scan_matching(self, collection, query, limit)  # type: ignore[arg-type]

    def _warn_fallback(self, collection: str, why: str) -> None:
        if not self._stale_warned.first(collection):
            return
        logger.warning(
            "find on DynamoDB table %r: %s; the query is answered from a scan and ordered "
            "in asyncdb",
            collection,
            why,
        )

    # -- the index read -------------------------------------------------------------------
    def _reader(self, table: str, index: Index, limit: int | None) -> Any:
        """``read(range, descending)`` for ``read_plan``: pages of (stored key, record) in
        key order, one Query each, pulled lazily."""
        first = max(1, min(BATCH_GET_KEYS, self._find_page_size))

        async def read(span: ByteRange, descending: bool) -> AsyncIterator[Rows]:
            partition = b"".join(span.fixed[: index.partition]) or CONSTANT_PARTITION
            cut = len(partition) if index.partition else 0
            low, high = span.low[cut:], span.high[cut:]
            if not high:
                return
            values: dict[str, Any] = {":p": {"B": partition}, ":h": {"B": high}}
            # DynamoDB refuses an empty binary key value: no lower bound is then needed.
            condition = "#p = :p AND #s <= :h"
            if low:
                values[":l"] = {"B": low}
                condition = "#p = :p AND #s BETWEEN :l AND :h"
            params: dict[str, Any] = {
                "TableName": table,
                "IndexName": index.gsi,
                "KeyConditionExpression": condition,
                "ExpressionAttributeNames": {
                    "#p": index.partition_attribute,
                    "#s": index.sort_attribute,
                },
                "ExpressionAttributeValues": values,
                "ScanIndexForward": not descending,
                # With a limit the first page fits it (read_plan may drop the row a page
                # resumes at, and rows tied on a cut string); the other pages are large,
                # their rows re-read by several BatchGetItems at once.
                "Limit": _NEXT_PAGES if limit is None else max(1, min(first, limit + 2)),
            }
            while True:
                response = await self._query(table, params)
                rows = response.get("Items", ())
                if rows:
                    current = await self._current(table, index, rows)
                    if current:
                        yield current
                last = response.get("LastEvaluatedKey")
                if not last:
                    return
                params["ExclusiveStartKey"] = last
                params["Limit"] = _NEXT_PAGES

        return read

    async def _query(self, table: str, params: dict[str, Any]) -> dict[str, Any]:
        try:
            return await self._transport.call("query", table, params)
        except TableMissing:
            raise _IndexGone from None
        except BackendUnavailableError:
            raise
        except BackendError as exc:
            # DynamoDB: ValidationException "The table does not have the specified index".
            if "index" in str(exc).lower():
                raise _IndexGone from exc
            raise

    async def _current(
        self, table: str, index: Index, rows: Sequence[dict[str, Any]]
    ) -> list[tuple[bytes, Record]]:
        """The rows whose items, read consistently now, still hold the row's key."""
        keys = [row[ID_ATTRIBUTE] for row in rows]
        items: dict[str, dict[str, Any]] = {}
        for batch in await asyncio.gather(
            *(
                self._items(table, keys[start : start + BATCH_GET_KEYS])
                for start in range(0, len(keys), BATCH_GET_KEYS)
            )
        ):
            items.update(batch)
        current: list[tuple[bytes, Record]] = []
        for row in rows:
            shown = index.stored_key(row)
            item = items.get(row[ID_ATTRIBUTE]["S"])
            if shown is None or item is None or index.stored_key(item) != shown:
                continue  # deleted or moved since the index saw it
            found = record(item)
            if found is not None:
                current.append((shown, found))
        return current

    async def _items(self, table: str, keys: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """The items of ``keys`` (stored ``_id`` values) by key, read consistently."""
        unique = list({key["S"]: key for key in keys}.values())
        found: dict[str, dict[str, Any]] = {}
        policy = self._transport.policy
        pending = [{ID_ATTRIBUTE: key} for key in unique]
        stalls = 0
        while pending:
            try:
                response = await self._transport.call(
                    "batch_get_item",
                    table,
                    {"RequestItems": {table: {"Keys": pending, "ConsistentRead": True}}},
                )
            except TableMissing:
                raise _IndexGone from None
            for item in response.get("Responses", {}).get(table, ()):
                found[item[ID_ATTRIBUTE]["S"]] = item
            left = response.get("UnprocessedKeys", {}).get(table, {}).get("Keys", [])
            stalls = stalls + 1 if len(left) >= len(pending) else 0
            if left and stalls > policy.max_retries:
                raise BackendUnavailableError(
                    f"DynamoDB left {len(left)} keys of table {table!r} unprocessed "
                    f"{stalls} times in a row"
                )
            if left:
                await policy.back_off(stalls)
            pending = left
        return found

    # -- the scan -------------------------------------------------------------------------
    async def _scan_find(self, collection: str, query: Query, limit: int | None) -> list[Record]:
        """An unordered equality query from a Scan with a filter expression."""
        scan_filter = build_filter(query)
        if scan_filter.impossible:
            return []
        params: dict[str, Any] = {
            "TableName": collection,
            "ConsistentRead": True,
            **scan_filter.params,
        }
        # DynamoDB's Limit counts items read before the filter: it bounds the cost of a page,
        # not the number of matches. Start small when few matches are wanted, grow while
        # they are sparse, and keep paging until there are enough or the table ends.
        page_limit = None if limit is None else max(limit, self._find_page_size)
        matches: list[Record] = []
        while True:
            if page_limit is not None:
                params["Limit"] = page_limit
                page_limit = page_limit * 4 if page_limit < 100_000 else None
            else:
                params.pop("Limit", None)
            try:
                response = await self._transport.call("scan", collection, params)
            except TableMissing:
                return []
            for item in response.get("Items", ()):
                found = record(item)
                if found is not None and query.matches(found.body):
                    matches.append(found)
                    if limit is not None and len(matches) >= limit:
                        return matches
            last = response.get("LastEvaluatedKey")
            if not last:
                return matches
            params["ExclusiveStartKey"] = last
