"""The memory driver: a real driver over process memory, as strict as the real backends.

Each document is stored as a private serialized copy (a pickle written without a memo),
so nothing a caller holds can alias what is stored, and every read returns a fresh
object. The face has already checked and copied the body to plain JSON types (dict,
list, str, int, float, bool, None), for which a pickle round trip equals a JSON round
trip, at a quarter of the cost of encoding JSON and half of parsing it
(docs/performance.md). Revisions are ``<generation>-<counter>``
and unique across the driver's lifetime, so a revision from before a delete never matches
a re-created document.

One lock, held only inside each operation's synchronous part (no operation awaits while
it holds it; ``patch`` runs the face's change, which does no I/O, under it): a service
runs on one event loop, but this driver *is* the store, and sharing one ``MemoryDriver``
between services is how an awaited service and a sync facade (which runs on a loop of its
own, in another thread) see the same documents. The lock keeps the store and the shared
pickler consistent across those threads; uncontended it costs a fraction of a
microsecond.
"""

from __future__ import annotations

import bisect
import io
import itertools
import pickle
import threading
from collections.abc import Sequence

from asyncdb._evaluate import arrange_records
from asyncdb._query import Query
from asyncdb.drivers.base import (
    Body,
    Change,
    DeleteRequest,
    Driver,
    DriverLimits,
    Record,
    ScanPage,
    WriteOutcome,
    WriteRequest,
)
from asyncdb.drivers.memory.settings import MemorySettings
from asyncdb.errors import AsyncDBError, ConflictError, NotFoundError

__all__ = ["MemoryDriver"]


class _Freezer:
    """Writes the stored form of a body: one pickler and buffer per driver, reused (a new
    pair per write costs as much as the pickling itself). Called only under the driver's
    lock, so no two writes share them at once."""

    __slots__ = ("_buffer", "_pickler")

    def __init__(self) -> None:
        self._buffer = io.BytesIO()
        self._pickler = pickle.Pickler(self._buffer, pickle.HIGHEST_PROTOCOL)
        # No memo: a list that a body holds twice is stored twice and read back as two
        # lists (as JSON would), never as one list aliased in two places; and a cycle
        # raises ValueError instead of being stored. It also means nothing is remembered
        # from one write to the next.
        self._pickler.fast = True

    def __call__(self, body: Body) -> bytes:
        buffer = self._buffer
        buffer.seek(0)
        buffer.truncate()
        self._pickler.dump(body)
        return buffer.getvalue()


#: A fresh copy of a stored body on every call. Only this driver's own ``_dumps`` output
#: is ever loaded: nothing from outside the process reaches it.
_loads = pickle.loads


class _Collection:
    __slots__ = ("docs", "ids")

    def __init__(self) -> None:
        self.docs: dict[str, tuple[str, bytes]] = {}  # id -> (rev, the stored body)
        self.ids: list[str] = []  # sorted, for stable key-ordered scans


class MemoryDriver(Driver):
    """Keeps collections in this process; they vanish with it. For tests and laptops."""

    name = "memory"
    settings_class = MemorySettings
    coalesce_worthwhile = False  # no I/O: a batch would only add a loop iteration
    # Fallbacks run one at a time (no I/O to overlap). No document size limit of its own
    # (the default native_document_bytes=None): under DATABASE_SIZE_LIMIT=native the face's
    # cap of 16 MiB applies, by the default measure.
    limits = DriverLimits(max_write_batch=25, max_concurrency=1)

    def __init__(self) -> None:
        self._collections: dict[str, _Collection] = {}
        self._counter = itertools.count(1)
        self._dumps = _Freezer()
        self._lock = threading.Lock()

    def _next_rev(self, previous: str | None) -> str:
        generation = int(previous.partition("-")[0]) + 1 if previous else 1
        return f"{generation}-{next(self._counter):010x}"

    async def get(self, collection: str, doc_id: str) -> Record | None:
        with self._lock:
            stored = self._stored(collection, doc_id)
        if stored is None:
            return None
        return Record(doc_id, stored[0], _loads(stored[1]))

    def _stored(self, collection: str, doc_id: str) -> tuple[str, bytes] | None:
        docs = self._collections.get(collection)
        return None if docs is None else docs.docs.get(doc_id)

    async def put(
        self,
        collection: str,
        doc_id: str,
        body: Body,
        *,
        if_rev: str | None = None,
        if_absent: bool = False,
    ) -> str:
        with self._lock:
            return self._put_stored(collection, doc_id, self._dumps(body), if_rev, if_absent)

    def _put_stored(
        self, collection: str, doc_id: str, text: bytes, if_rev: str | None, if_absent: bool
    ) -> str:
        docs = self._collections.get(collection)
        current = None if docs is None else docs.docs.get(doc_id)
        if if_absent and current is not None:
            raise ConflictError(f"document {doc_id!r} already exists in {collection!r}")
        if if_rev is not None and (current is None or current[0] != if_rev):
            raise ConflictError(f"stale revision for document {doc_id!r} in {collection!r}")
        if docs is None:
            docs = self._collections[collection] = _Collection()
        rev = self._next_rev(None if current is None else current[0])
        if current is None:
            bisect.insort(docs.ids, doc_id)
        docs.docs[doc_id] = (rev, text)
        return rev

    async def patch(
        self, collection: str, doc_id: str, change: Change, *, if_rev: str | None = None
    ) -> Record:
        # Read, change and write under the one lock: no other write (from this loop or
        # another thread's service on this driver) comes in between, so no patch loses a
        # race and none is retried. ``change`` does no I/O and never calls the driver.
        with self._lock:
            stored = self._stored(collection, doc_id)
            if stored is None:
                raise NotFoundError(collection, doc_id)
            if if_rev is not None and stored[0] != if_rev:
                raise ConflictError(f"stale revision for document {doc_id!r} in {collection!r}")
            body = change(_loads(stored[1]))  # raises before anything is written
            rev = self._put_stored(collection, doc_id, self._dumps(body), stored[0], False)
        return Record(doc_id, rev, body)  # stored as a copy: the body is the caller's

    async def delete(self, collection: str, doc_id: str, *, if_rev: str | None = None) -> bool:
        with self._lock:
            return self._delete_stored(collection, doc_id, if_rev)

    def _delete_stored(self, collection: str, doc_id: str, if_rev: str | None) -> bool:
        docs = self._collections.get(collection)
        current = None if docs is None else docs.docs.get(doc_id)
        if docs is None or current is None:
            return False
        if if_rev is not None and current[0] != if_rev:
            raise ConflictError(f"stale revision for document {doc_id!r} in {collection!r}")
        del docs.docs[doc_id]
        del docs.ids[bisect.bisect_left(docs.ids, doc_id)]
        return True

    async def scan(self, collection: str, *, after: str | None, limit: int) -> ScanPage:
        with self._lock:
            docs = self._collections.get(collection)
            if docs is None:
                return ScanPage([], None)
            start = 0 if after is None else bisect.bisect_right(docs.ids, after)
            page_ids = docs.ids[start : start + limit]
            stored = [(doc_id, docs.docs[doc_id]) for doc_id in page_ids]
            exhausted = start + limit >= len(docs.ids)
        records = [Record(doc_id, rev, _loads(text)) for doc_id, (rev, text) in stored]
        last_key = None if exhausted or not records else records[-1].id
        return ScanPage(records, last_key)

    async def get_many(self, collection: str, ids: Sequence[str]) -> dict[str, Record]:
        with self._lock:
            found = [(doc_id, self._stored(collection, doc_id)) for doc_id in ids]
        return {
            doc_id: Record(doc_id, stored[0], _loads(stored[1]))
            for doc_id, stored in found
            if stored is not None
        }

    async def put_many(self, collection: str, writes: Sequence[WriteRequest]) -> list[WriteOutcome]:
        outcomes: list[WriteOutcome] = []
        with self._lock:
            texts = [self._dumps(write.body) for write in writes]
            for write, text in zip(writes, texts, strict=True):
                try:
                    rev = self._put_stored(
                        collection, write.id, text, write.if_rev, write.if_absent
                    )
                    outcomes.append(WriteOutcome(write.id, rev=rev))
                except AsyncDBError as exc:
                    outcomes.append(WriteOutcome(write.id, error=exc))
        return outcomes

    async def delete_many(
        self, collection: str, deletes: Sequence[DeleteRequest]
    ) -> list[WriteOutcome]:
        outcomes: list[WriteOutcome] = []
        with self._lock:
            for request in deletes:
                try:
                    self._delete_stored(collection, request.id, request.if_rev)
                    outcomes.append(WriteOutcome(request.id))
                except AsyncDBError as exc:
                    outcomes.append(WriteOutcome(request.id, error=exc))
        return outcomes

    def can_find(self, collection: str, query: Query) -> bool:
        return True  # the reference evaluator runs every shape

    async def find(self, collection: str, query: Query, limit: int | None) -> list[Record]:
        with self._lock:
            docs = self._collections.get(collection)
            if docs is None:
                return []
            records = [Record(doc_id, *self._loaded(docs, doc_id)) for doc_id in docs.ids]
        found = [record for record in records if query.matches(record.body)]
        return arrange_records(found, query.order_by, after=query.after, limit=limit)

    @staticmethod
    def _loaded(docs: _Collection, doc_id: str) -> tuple[str, Body]:
        rev, text = docs.docs[doc_id]
        body: Body = _loads(text)
        return rev, body

    async def list_collections(self) -> list[str]:
        with self._lock:
            return sorted(name for name, docs in self._collections.items() if docs.docs)

    async def drop_collection(self, collection: str) -> None:
        with self._lock:
            self._collections.pop(collection, None)
