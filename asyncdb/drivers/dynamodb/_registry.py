"""Which indexes a table has, stored in the table itself so that every process learns of
them, and the derived key attributes each index adds to an item.

An index (``Index``) is a ``KeyLayout`` and how many of its leading components form the
partition key of its global secondary index (``partition``). Its GSI is named
``asyncdb-ix-<digest>-<partition>`` and keyed by two binary attributes of every item:
``_asyncdb_ixp_<digest>_<partition>`` (the first ``partition`` components of the item's
key, or one constant byte when there are none) and ``_asyncdb_ixs_<digest>_<partition>``
(the rest, ``_id`` last). The partition count is part of the name because two
``ensure_index`` calls can make one layout with different partitions
(``["a"], order_by=["b", "c"]`` and ``["a", "b"], order_by=["c"]``). Top-level document
fields never start with ``_``, so these names never meet a caller's field.

The registry is one item of the table, under the key ``REGISTRY_KEY``: it starts with a
control character, which no document id holds, so no caller's id reaches it and
listings, finds and exports skip it (``_ids.caller_id``). Its map attribute ``indexes``
holds per index (by ``Index.name``) the layout's ``meta`` (JSON text), ``partition``,
``state`` (``building``, then ``ready``) and when it was ``registered``. Entries are added
by UpdateItem conditional on the entry being absent, so concurrent registrations of one
index make one entry and those of different indexes all land.

A driver caches each table's registry and reads it again (one consistent GetItem) when
its copy is older than ``index_refresh_seconds``; DescribeTable (rate-limited per
account) is never part of that.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from asyncdb.drivers._bytekeys import encode_parts
from asyncdb.drivers._keyplan import KeyLayout
from asyncdb.drivers.dynamodb._codec import ID_ATTRIBUTE, INDEX_ATTRIBUTE_PREFIX
from asyncdb.drivers.dynamodb._errors import ConditionFailed, TableMissing
from asyncdb.drivers.dynamodb._ids import RESERVED_PREFIX
from asyncdb.drivers.dynamodb._transport import Transport
from asyncdb.errors import BackendError

__all__ = [
    "BUILDING",
    "KEY_BUDGET",
    "READY",
    "REGISTRY_KEY",
    "Entry",
    "Index",
    "Registry",
    "Snapshot",
]

logger = logging.getLogger("asyncdb")

REGISTRY_KEY: Final = RESERVED_PREFIX + "asyncdb:indexes"
BUILDING: Final = "building"
READY: Final = "ready"
#: The bytes of a whole key. A GSI sort key holds at most 1,024 bytes and a partition key
#: 2,048; every component gets an equal share of the budget, so with 1,024 both parts fit
#: whatever the split.
KEY_BUDGET: Final = 1024
#: The partition value of an index whose partition has no component (DynamoDB refuses an
#: empty binary key). Every item of such an index shares one partition: see the docs.
CONSTANT_PARTITION: Final = b"\x00"
_INDEXES: Final = "indexes"
_CACHED_LIMIT: Final = 10_000


@dataclass(frozen=True, slots=True)
class Index:
    """An index: its layout and how many leading components its partition key holds."""

    layout: KeyLayout
    partition: int

    @classmethod
    def for_index(cls, layout: KeyLayout, equality_fields: int, ordered: bool) -> Index:
        """The index of ``ensure_index``: the fields not in ``order_by`` form the partition,
        less the last one when there is no order (so that a query can still bound it)."""
        return cls(layout, max(0, equality_fields - (0 if ordered else 1)))

    @property
    def name(self) -> str:
        return f"{self.layout.digest}_{self.partition}"

    @property
    def gsi(self) -> str:
        return f"asyncdb-ix-{self.layout.digest}-{self.partition}"

    @property
    def partition_attribute(self) -> str:
        return f"{INDEX_ATTRIBUTE_PREFIX}p_{self.name}"

    @property
    def sort_attribute(self) -> str:
        return f"{INDEX_ATTRIBUTE_PREFIX}s_{self.name}"

    def keys(self, doc_id: str, body: Mapping[str, Any]) -> tuple[bytes, bytes]:
        """The (partition, sort) values of a document."""
        parts = encode_parts(self.layout, doc_id, body, budget=KEY_BUDGET)
        partition = b"".join(parts[: self.partition]) or CONSTANT_PARTITION
        return partition, b"".join(parts[self.partition :])

    def attributes(self, doc_id: str, body: Mapping[str, Any]) -> dict[str, dict[str, bytes]]:
        partition, sort = self.keys(doc_id, body)
        return {self.partition_attribute: {"B": partition}, self.sort_attribute: {"B": sort}}

    def stored_key(self, item: Mapping[str, Any]) -> bytes | None:
        """The whole key an item holds for this index (``None``: it holds none)."""
        partition = item.get(self.partition_attribute, {}).get("B")
        sort = item.get(self.sort_attribute, {}).get("B")
        if not isinstance(partition, bytes) or not isinstance(sort, bytes):
            return None
        return (partition if self.partition else b"") + sort


def index_attributes(
    indexes: tuple[Index, ...], doc_id: str, body: Mapping[str, Any]
) -> dict[str, Any]:
    """The derived key attributes of a document for every index of its table."""
    found: dict[str, Any] = {}
    for index in indexes:
        found.update(index.attributes(doc_id, body))
    return found


@dataclass(frozen=True, slots=True)
class Entry:
    index: Index
    state: str
    registered: str  # ISO 8601, UTC, as the registering process saw it


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A table's registry as read, and when (this process's monotonic clock)."""

    entries: dict[str, Entry]
    loaded: float

    def indexes(self, *, ready_only: bool = False) -> tuple[Index, ...]:
        return tuple(
            entry.index for entry in self.entries.values() if not ready_only or entry.state == READY
        )


def _entry(raw: Any) -> Entry | None:
    """An entry as stored, or ``None`` for one this version cannot read (skipped)."""
    fields = raw.get("M") if isinstance(raw, dict) else None
    if not isinstance(fields, dict):
        return None
    try:
        layout = KeyLayout.from_meta(json.loads(fields["meta"]["S"]))
        partition = int(fields["partition"]["N"])
        state = str(fields["state"]["S"])
        registered = str(fields.get("registered", {}).get("S", ""))
    except (KeyError, TypeError, ValueError):
        return None
    if layout is None or not 0 <= partition <= len(layout.components):
        return None
    return Entry(Index(layout, partition), state, registered)


class Registry:
    """The index registries of one driver's tables, cached."""

    def __init__(self, transport: Transport, refresh: float) -> None:
        self._transport = transport
        self.refresh = refresh
        self._cache: OrderedDict[str, Snapshot] = OrderedDict()
        self._locks: dict[str, asyncio.Lock] = {}

    def cached(self, table: str) -> Snapshot | None:
        return self._cache.get(table)

    def forget(self, table: str) -> None:
        self._cache.pop(table, None)
        self._locks.pop(table, None)

    async def current(self, table: str) -> Snapshot:
        """The registry, read again when the cached copy is older than ``refresh``.
        Concurrent callers share one read: a read that started after a caller did is as
        good as its own (it sees everything registered before the caller began)."""
        began = time.monotonic()
        snapshot = self._cache.get(table)
        if snapshot is not None and began - snapshot.loaded < self.refresh:
            return snapshot
        lock = self._locks.setdefault(table, asyncio.Lock())
        async with lock:
            snapshot = self._cache.get(table)
            if snapshot is not None and (
                snapshot.loaded >= began or time.monotonic() - snapshot.loaded < self.refresh
            ):
                return snapshot
            return await self.load(table)

    async def load(self, table: str) -> Snapshot:
        """The registry as stored now (a missing table has none)."""
        started = time.monotonic()
        try:
            response = await self._transport.call(
                "get_item",
                table,
                {
                    "TableName": table,
                    "Key": {ID_ATTRIBUTE: {"S": REGISTRY_KEY}},
                    "ConsistentRead": True,
                },
            )
        except TableMissing:
            response = {}
        raw = response.get("Item", {}).get(_INDEXES, {}).get("M", {})
        entries: dict[str, Entry] = {}
        for name, value in raw.items() if isinstance(raw, dict) else ():
            entry = _entry(value)
            if entry is not None and entry.index.name == name:
                entries[name] = entry
        # Aged from before the read: a copy is never younger than what it holds.
        snapshot = Snapshot(entries, started)
        self._cache[table] = snapshot
        self._cache.move_to_end(table)
        while len(self._cache) > _CACHED_LIMIT:
            self._cache.popitem(last=False)
        return snapshot

    async def register(self, table: str, index: Index) -> Snapshot:
        """Add ``index`` as ``building`` unless it is registered; the registry after."""
        key = {ID_ATTRIBUTE: {"S": REGISTRY_KEY}}
        # Two steps: one update expression cannot create the map and an entry in it. Both
        # are idempotent, so a retried attempt whose answer was lost does no harm.
        await self._transport.call(
            "update_item",
            table,
            {
                "TableName": table,
                "Key": key,
                "UpdateExpression": "SET #x = if_not_exists(#x, :empty)",
                "ExpressionAttributeNames": {"#x": _INDEXES},
                "ExpressionAttributeValues": {":empty": {"M": {}}},
            },
        )
        entry = {
            "meta": {"S": json.dumps(index.layout.meta(), sort_keys=True)},
            "partition": {"N": str(index.partition)},
            "state": {"S": BUILDING},
            "registered": {"S": datetime.now(UTC).isoformat(timespec="seconds")},
        }
        try:
            await self._transport.call(
                "update_item",
                table,
                {
                    "TableName": table,
                    "Key": key,
                    "UpdateExpression": "SET #x.#k = :e",
                    "ConditionExpression": "attribute_not_exists(#x.#k)",
                    "ExpressionAttributeNames": {"#x": _INDEXES, "#k": index.name},
                    "ExpressionAttributeValues": {":e": {"M": entry}},
                },
            )
            logger.info("dynamodb: registered index %s of table %r", index.name, table)
        except ConditionFailed:
            pass  # registered already (by another process, or by a lost earlier attempt)
        return await self.load(table)

    async def mark_ready(self, table: str, index: Index) -> None:
        try:
            await self._transport.call(
                "update_item",
                table,
                {
                    "TableName": table,
                    "Key": {ID_ATTRIBUTE: {"S": REGISTRY_KEY}},
                    "UpdateExpression": "SET #x.#k.#s = :ready",
                    "ConditionExpression": "attribute_exists(#x.#k)",
                    "ExpressionAttributeNames": {"#x": _INDEXES, "#k": index.name, "#s": "state"},
                    "ExpressionAttributeValues": {":ready": {"S": READY}},
                },
            )
        except (ConditionFailed, TableMissing):
            self.forget(table)
            raise BackendError(
                f"ensure_index on DynamoDB table {table!r}: the index registry lost its "
                "entry while the index was built (was the collection dropped meanwhile?)"
            ) from None
        await self.load(table)
