"""Which indexes each collection has, stored in Firestore so that every process learns
of them: one document per collection in the collection ``_asyncdb_indexes``.

asyncdb's collection names match ``[a-z][a-z0-9_-]*``, so no caller's collection can be
named so (``list_collections`` leaves it out). A registry document holds the map
``indexes``: per layout (``ix_<digest>``) its ``meta`` (``KeyLayout.meta()`` as JSON
text), its ``state`` (``building``, then ``ready``) and when it was ``registered`` (the
server's time of the commit that added it).

A driver caches each collection's entries and reads them again when the cache is older
than ``index_refresh_seconds``. Reads are one ``BatchGetDocuments`` of the one document,
whose ``read_time`` is the server's clock (the wait of ``ensure_index`` is measured on it,
never on this machine's). Entries are added with an update mask naming only the new entry
and a precondition on the document's ``update_time`` (``exists=false`` for the first), so
concurrent registrations of different indexes both land and those of the same one make
one entry: a conflict re-reads and tries again.
"""

from __future__ import annotations

import json
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Final

from google.cloud.firestore_v1 import types

from asyncdb._retry import Attempts
from asyncdb.drivers._bytekeys import encode_key
from asyncdb.drivers._keyplan import KeyLayout
from asyncdb.drivers.firestore._records import KEY_BUDGET
from asyncdb.drivers.firestore._transport import Connection, Transport
from asyncdb.errors import BackendError, ConflictError, WriteOutcomeUnknownError

__all__ = ["BUILDING", "READY", "REGISTRY_COLLECTION", "Entry", "Registry", "Snapshot"]

logger = logging.getLogger("asyncdb")

REGISTRY_COLLECTION: Final = "_asyncdb_indexes"
BUILDING: Final = "building"
READY: Final = "ready"
_INDEXES: Final = "indexes"
#: How many collections' registries a driver remembers (then the oldest is read again).
_CACHED_LIMIT: Final = 10_000
_REGISTER_ATTEMPTS: Final = 20

_BatchGetDocumentsRequest: Final[Any] = types.BatchGetDocumentsRequest.pb()
_CommitRequest: Final[Any] = types.CommitRequest.pb()
_REQUEST_TIME: Final = types.DocumentTransform.FieldTransform.ServerValue.REQUEST_TIME


@dataclass(frozen=True, slots=True)
class Entry:
    """One index of a collection."""

    layout: KeyLayout
    state: str
    #: The server's time of registration, in seconds since the epoch.
    registered: float


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A collection's registry as read: its entries, the server's time of the read, the
    document's ``update_time`` (``None``: no document) and when this process read it."""

    entries: dict[str, Entry]
    server_now: float
    update_time: Any
    loaded: float

    def layouts(self, *, ready_only: bool = False) -> tuple[KeyLayout, ...]:
        return tuple(
            entry.layout
            for entry in self.entries.values()
            if not ready_only or entry.state == READY
        )


def _seconds(stamp: Any) -> float:
    return float(stamp.seconds) + float(stamp.nanos) / 1e9


def _entry_name(layout: KeyLayout) -> str:
    return f"ix_{layout.digest}"


def _fits(layout: KeyLayout) -> bool:
    """Whether a layout's key fits ``KEY_BUDGET`` (another program's entry may not)."""
    try:
        encode_key(layout, "", {}, budget=KEY_BUDGET)
    except ValueError:
        return False
    return True


def _entries(fields: Any) -> dict[str, Entry]:
    """The valid entries of a registry document (another program's damage is skipped)."""
    found: dict[str, Entry] = {}
    value = fields.get(_INDEXES)
    if value is None or value.WhichOneof("value_type") != "map_value":
        return found
    for name, item in value.map_value.fields.items():
        entry = item.map_value.fields if item.WhichOneof("value_type") == "map_value" else {}
        meta, state, registered = (entry.get(k) for k in ("meta", "state", "registered"))
        if meta is None or state is None or registered is None:
            continue
        try:
            layout = KeyLayout.from_meta(json.loads(meta.string_value))
        except ValueError:
            layout = None
        if layout is None or name != _entry_name(layout) or not _fits(layout):
            continue
        if state.string_value not in (BUILDING, READY):
            continue
        found[layout.digest] = Entry(
            layout, state.string_value, _seconds(registered.timestamp_value)
        )
    return found


class Registry:
    """The cached registries of one driver's collections."""

    def __init__(self, transport: Transport, refresh: float) -> None:
        self._transport = transport
        self.refresh = refresh
        self._cache: OrderedDict[str, Snapshot] = OrderedDict()

    def cached(self, collection: str) -> Snapshot | None:
        """What this process knows of ``collection``'s indexes (no I/O; maybe stale)."""
        return self._cache.get(collection)

    def forget(self, collection: str) -> None:
        self._cache.pop(collection, None)

    async def current(self, conn: Connection, collection: str) -> Snapshot:
        """The registry, read again if the cache is older than ``refresh`` seconds."""
        known = self._cache.get(collection)
        if known is not None and time.monotonic() - known.loaded < self.refresh:
            return known
        return await self.read(conn, collection)

    async def read(self, conn: Connection, collection: str) -> Snapshot:
        """The registry as stored now (and cached)."""
        name = f"{conn.documents_path}/{REGISTRY_COLLECTION}/{collection}"
        request = types.BatchGetDocumentsRequest.wrap(
            _BatchGetDocumentsRequest(database=conn.database_path, documents=[name])
        )
        transport = self._transport

        async def call() -> tuple[Any, Any]:
            stream = await conn.client.batch_get_documents(
                request=request, retry=None, timeout=transport.timeout, metadata=conn.metadata
            )
            document, read_time = None, None
            async for response in stream:
                raw = types.BatchGetDocumentsResponse.pb(response)
                read_time = raw.read_time
                if raw.HasField("found"):
                    document = raw.found
            return document, read_time

        document, read_time = await transport.call(f"read the indexes of {collection}", call)
        if read_time is None:
            raise BackendError(f"Firestore answered no read of the indexes of {collection!r}")
        snapshot = Snapshot(
            {} if document is None else _entries(document.fields),
            _seconds(read_time),
            None if document is None else document.update_time,
            time.monotonic(),
        )
        self._cache[collection] = snapshot
        self._cache.move_to_end(collection)
        while len(self._cache) > _CACHED_LIMIT:
            self._cache.popitem(last=False)
        return snapshot

    async def register(self, conn: Connection, collection: str, layout: KeyLayout) -> Snapshot:
        """The registry with ``layout`` in it: added as ``building`` unless it is there."""
        for _ in range(_REGISTER_ATTEMPTS):
            snapshot = await self.read(conn, collection)
            if layout.digest in snapshot.entries:
                return snapshot
            request = _CommitRequest(database=conn.database_path)
            write = request.writes.add()
            write.update.name = f"{conn.documents_path}/{REGISTRY_COLLECTION}/{collection}"
            path = f"{_INDEXES}.{_entry_name(layout)}"
            entry = write.update.fields[_INDEXES].map_value.fields[_entry_name(layout)]
            fields = entry.map_value.fields
            fields["meta"].string_value = json.dumps(layout.meta(), sort_keys=True)
            fields["state"].string_value = BUILDING
            write.update_mask.field_paths.extend([f"{path}.meta", f"{path}.state"])
            transform = write.update_transforms.add()
            transform.field_path = f"{path}.registered"
            transform.set_to_server_value = _REQUEST_TIME
            if snapshot.update_time is None:
                write.current_document.exists = False
            else:
                write.current_document.update_time.CopyFrom(snapshot.update_time)
            try:
                await self._commit(conn, request, f"register an index of {collection}")
            except (ConflictError, WriteOutcomeUnknownError):
                # Another registration came first, or this one's answer was lost: the
                # registry says which on the next read.
                continue
            logger.info(
                "firestore: registered index %s of %r (building)", layout.digest, collection
            )
            return await self.read(conn, collection)
        raise BackendError(f"could not register an index of {collection!r}: too much contention")

    async def mark_ready(self, conn: Connection, collection: str, layout: KeyLayout) -> None:
        """The entry of ``layout`` says ``ready`` (idempotent; the document must exist)."""
        request = _CommitRequest(database=conn.database_path)
        write = request.writes.add()
        write.update.name = f"{conn.documents_path}/{REGISTRY_COLLECTION}/{collection}"
        entry = write.update.fields[_INDEXES].map_value.fields[_entry_name(layout)]
        entry.map_value.fields["state"].string_value = READY
        write.update_mask.field_paths.append(f"{_INDEXES}.{_entry_name(layout)}.state")
        write.current_document.exists = True
        # Setting a value again is harmless: a retry after a lost answer changes nothing.
        await self._commit(conn, request, f"mark an index of {collection} ready")
        await self.read(conn, collection)

    async def drop(self, conn: Connection, collection: str) -> None:
        """Remove ``collection``'s registry (missing is fine; a retry is harmless)."""
        request = _CommitRequest(database=conn.database_path)
        request.writes.add().delete = f"{conn.documents_path}/{REGISTRY_COLLECTION}/{collection}"
        await self._commit(conn, request, f"drop the indexes of {collection}")
        self.forget(collection)

    async def _commit(self, conn: Connection, request: Any, where: str) -> None:
        wrapped = types.CommitRequest.wrap(request)
        transport = self._transport

        async def call() -> None:
            await conn.client.commit(
                request=wrapped, retry=None, timeout=transport.timeout, metadata=conn.metadata
            )

        await transport.call(where, call, attempts=Attempts(), conflict_may_be_own=True)
