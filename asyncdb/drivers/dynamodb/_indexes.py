"""``ensure_index`` on DynamoDB: a global secondary index per index, its registry entry,
and the backfill of the documents written before it.

The order of the steps is what keeps the index complete:

1. the GSI (``_registry.Index``): created with the table when the table does not exist
   yet, else by UpdateTable, then waited for until ACTIVE. It comes first so that every
   item that carries its key attributes is in it, also on servers that do not index the
   items a table held before a GSI was added;
2. the registry entry, ``building``: from then on every writer that reads the registry
   writes the index's keys;
3. a wait of twice ``index_refresh_seconds`` (below), then the backfill: a scan that adds
   the keys to each document that lacks them or holds wrong ones, by UpdateItem
   conditional on the document's revision (the body and ``_rev`` stay as they are: the
   document reads back identical);
4. the entry ``ready``: from then on ``find`` uses the index.

A server that cannot add a GSI to an existing table (dynalite accepts the request and
ignores it) leaves the index unmade: ``ensure_index`` logs a WARNING and returns, and the
queries it was meant for are answered from a scan, as without it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Sequence
from typing import TYPE_CHECKING, Any, Final

from asyncdb.drivers._bytekeys import encode_key
from asyncdb.drivers._keyplan import KeyLayout
from asyncdb.drivers.dynamodb._codec import ID_ATTRIBUTE
from asyncdb.drivers.dynamodb._errors import ConditionFailed, TableBusy, TableMissing
from asyncdb.drivers.dynamodb._items import record, rev_condition, stored_rev
from asyncdb.drivers.dynamodb._registry import KEY_BUDGET, READY, Index, Registry
from asyncdb.drivers.dynamodb._tables import Tables
from asyncdb.drivers.dynamodb._transport import Transport
from asyncdb.errors import (
    AuthenticationError,
    BackendError,
    BackendUnavailableError,
    InvalidQueryError,
)

if TYPE_CHECKING:
    from asyncdb._query import FieldPath, Order

__all__ = ["MAX_GSIS", "IndexOperations"]

logger = logging.getLogger("asyncdb")

#: DynamoDB's default quota of global secondary indexes per table.
MAX_GSIS: Final = 20


def gsi_definition(index: Index) -> dict[str, Any]:
    """The GSI of ``index`` as CreateTable and UpdateTable take it. Projection KEYS_ONLY:
    ``find`` reads every row's item again, consistently, from the table (a GSI read is
    eventually consistent), so a projected copy of the body would only cost storage and
    write units."""
    return {
        "AttributeDefinitions": [
            {"AttributeName": index.partition_attribute, "AttributeType": "B"},
            {"AttributeName": index.sort_attribute, "AttributeType": "B"},
        ],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": index.gsi,
                "KeySchema": [
                    {"AttributeName": index.partition_attribute, "KeyType": "HASH"},
                    {"AttributeName": index.sort_attribute, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
    }


def _gsi_status(description: dict[str, Any] | None, name: str) -> str | None:
    for gsi in (description or {}).get("GlobalSecondaryIndexes", ()):
        if gsi.get("IndexName") == name:
            return str(gsi.get("IndexStatus", ""))
    return None


class IndexOperations:
    """``ensure_index`` of ``DynamoDBDriver`` (a mixin)."""

    _transport: Transport
    _tables: Tables
    _registry: Registry
    _write_concurrency: int
    _index_wait: float
    _index_locks: dict[str, asyncio.Lock]

    if TYPE_CHECKING:  # BulkOperations's, after this class in the driver's bases

        async def _bounded(self, jobs: Sequence[Awaitable[None]]) -> None: ...

    async def ensure_index(
        self, collection: str, fields: Sequence[FieldPath], *, order_by: Sequence[Order] = ()
    ) -> None:
        """Make the index (GSI, registry entry, backfill) and return when it is ready; at
        once (one registry read) if it is ready already."""
        layout = KeyLayout.for_index(fields, order_by)
        if not layout.components:
            raise InvalidQueryError("ensure_index needs at least one field")
        try:
            encode_key(layout, "", {}, budget=KEY_BUDGET)
        except ValueError as exc:
            raise InvalidQueryError(f"ensure_index on {collection!r}: {exc}") from None
        index = Index.for_index(layout, len(layout.components) - len(order_by), bool(order_by))
        entry = (await self._registry.load(collection)).entries.get(index.name)
        if entry is not None and entry.state == READY:
            return
        lock = self._index_locks.setdefault(collection, asyncio.Lock())
        async with lock:  # one build per table and process at a time (UpdateTable needs it)
            if not await self._make_gsi(collection, index):
                return
            try:
                snapshot = await self._registry.register(collection, index)
            except TableMissing:
                raise BackendError(
                    f"ensure_index on DynamoDB table {collection!r}: the table was dropped "
                    "while its index was made"
                ) from None
            observed = time.monotonic()
            entry = snapshot.entries.get(index.name)
            if entry is None:
                raise BackendError(
                    f"ensure_index on DynamoDB table {collection!r}: the registry did not "
                    "keep the new entry (was the collection dropped meanwhile?)"
                )
            if entry.state == READY:
                return
            # A writer reads the registry again before a write once its copy is older than
            # ``refresh``, so every write that starts ``refresh`` after the entry landed
            # writes the index's keys. The second period lets the writes that started
            # before (with a copy that lacked the entry) land; the backfill then sees their
            # documents. Measured from when this process saw the entry, on its own clock,
            # which is never earlier than the registration: no clock of another machine
            # can shorten it.
            wait = 2 * self._registry.refresh - (time.monotonic() - observed)
            if wait > 0:
                logger.info(
                    "dynamodb: ensure_index on %r waits %.1f s for every writer to learn of it",
                    collection,
                    wait,
                )
                await asyncio.sleep(wait)
            await self._backfill(collection, index)
            await self._registry.mark_ready(collection, index)
            logger.info("dynamodb: index %s of table %r is ready", index.gsi, collection)

    async def _make_gsi(self, table: str, index: Index) -> bool:
        """Create the GSI of ``index`` unless the table has it, and wait until it is
        ACTIVE. False: the server did not make it (the index cannot be used)."""
        tables = self._tables
        definition = gsi_definition(index)
        description = await tables.describe(table)
        if description is None:
            # A new table gets the index with it: nothing to backfill on the server side.
            tables.forget(table)
            await tables.ensure(table, index=definition)
            description = await tables.describe(table)
        deadline = asyncio.get_running_loop().time() + self._index_wait
        refused: Exception | None = None
        while _gsi_status(description, index.gsi) is None:
            count = len((description or {}).get("GlobalSecondaryIndexes", ()))
            if count >= MAX_GSIS:
                raise InvalidQueryError(
                    f"ensure_index on {table!r}: the DynamoDB table has {count} global "
                    f"secondary indexes, the most a table may have ({MAX_GSIS}); each index "
                    "shape (fields and order) is one of them"
                )
            try:
                await self._transport.call(
                    "update_table",
                    table,
                    {
                        "TableName": table,
                        "AttributeDefinitions": definition["AttributeDefinitions"],
                        "GlobalSecondaryIndexUpdates": [
                            {"Create": definition["GlobalSecondaryIndexes"][0]}
                        ],
                    },
                )
            except TableBusy:
                # UPDATING (another index being made): wait until it is ACTIVE, then again.
                description = await tables.wait_for(
                    table,
                    deadline,
                    f"finish its update within {self._index_wait}s",
                    lambda status: status in (None, "ACTIVE"),
                    slowest=5.0,
                )
                continue
            except TableMissing:
                tables.forget(table)  # dropped meanwhile: made again, with the index
                await tables.ensure(table, index=definition)
                description = await tables.describe(table)
                continue
            except (BackendUnavailableError, AuthenticationError):
                raise
            except BackendError as exc:
                refused = exc  # maybe a concurrent creator made it: look before judging
            description = await tables.describe(table)
            if _gsi_status(description, index.gsi) is None:
                logger.warning(
                    "dynamodb: the server did not create the global secondary index %s on "
                    "table %r (%s); the queries it was meant for are answered from a scan",
                    index.gsi,
                    table,
                    refused or "UpdateTable was accepted and ignored",
                )
                return False
        if _gsi_status(description, index.gsi) != "ACTIVE":
            await tables.wait_for(
                table,
                deadline,
                f"make its index {index.gsi} ACTIVE within {self._index_wait}s",
                lambda status: status in (None, "ACTIVE"),
                look=lambda found: _gsi_status(found, index.gsi),
                slowest=5.0,
            )
        return True

    async def _backfill(self, table: str, index: Index) -> None:
        """Write the keys of every document that lacks them or holds wrong ones."""
        params: dict[str, Any] = {"TableName": table, "ConsistentRead": True}
        keyed = 0
        while True:
            try:
                response = await self._transport.call("scan", table, params)
            except TableMissing:
                return
            jobs = []
            for item in response.get("Items", ()):
                found = record(item)
                if found is None:
                    continue  # the registry, or an item no id reaches
                partition, sort = index.keys(found.id, found.body)
                stored = (
                    item.get(index.partition_attribute, {}).get("B"),
                    item.get(index.sort_attribute, {}).get("B"),
                )
                if stored != (partition, sort):
                    jobs.append(self._add_keys(table, index, item, partition, sort))
            keyed += len(jobs)
            await self._bounded(jobs)
            last = response.get("LastEvaluatedKey")
            if not last:
                break
            params["ExclusiveStartKey"] = last
        logger.info("dynamodb: index %s of %r: keys added to %d items", index.gsi, table, keyed)

    async def _add_keys(
        self, table: str, index: Index, item: dict[str, Any], partition: bytes, sort: bytes
    ) -> None:
        """The keys added to one item, unless it changed since it was read: a writer that
        changed it wrote its keys (it knew of the index by now, see the wait). Setting two
        attributes twice is harmless, so a retried attempt needs no outcome check."""
        condition = rev_condition(stored_rev(item))
        names = {
            **condition["ExpressionAttributeNames"],
            "#i": ID_ATTRIBUTE,
            "#p": index.partition_attribute,
            "#s": index.sort_attribute,
        }
        # ConditionFailed: changed or deleted meanwhile; its writer keyed it (or nothing is
        # left to key).
        with contextlib.suppress(ConditionFailed):
            await self._transport.call(
                "update_item",
                table,
                {
                    "TableName": table,
                    "Key": {ID_ATTRIBUTE: item[ID_ATTRIBUTE]},
                    "UpdateExpression": "SET #p = :p, #s = :s",
                    # Never a new item: a document deleted meanwhile stays deleted.
                    "ConditionExpression": (
                        f"attribute_exists(#i) AND ({condition['ConditionExpression']})"
                    ),
                    "ExpressionAttributeNames": names,
                    "ExpressionAttributeValues": {
                        **condition.get("ExpressionAttributeValues", {}),
                        ":p": {"B": partition},
                        ":s": {"B": sort},
                    },
                },
            )
