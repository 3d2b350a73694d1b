"""The indexes ``ensure_index`` makes on Firestore, and ``find`` / ``can_find`` over them.

An index is a ``KeyLayout`` (``asyncdb.drivers._keyplan``). Every document written to a
collection with a registered index (``_registry``) carries, per index, the top-level bytes
field ``_asyncdb_ix_<digest>``: its whole key (``_bytekeys.encode_key``, at most
``KEY_BUDGET`` bytes), equality fields first, so that every query the index serves is
key ranges on that one field. Firestore orders bytes bytewise, which is the contract's
order of the key, and its automatic single-field index serves a range on one field
ordered by it: no composite index is needed. The field is stripped on every read
(``_codec``).

``find`` plans with the ready indexes (``_bytekeys.best_plan``) and reads each range
lazily page by page (``read_plan`` merges ``$in`` ranges and restores exact order within a
cut long string). A row whose stored key is not its document's (a writer that did not keep
the index) makes the query fall back to the filter and the reference ordering, with one
WARNING per collection: never a wrong answer.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any, Final

import anyio
from google.api_core import exceptions as gexc
from google.cloud.firestore_v1 import types

from asyncdb.drivers._bytekeys import ByteRange, StaleKey, best_plan, encode_key, read_plan
from asyncdb.drivers._keyplan import KeyLayout
from asyncdb.drivers.base import (
    FirstTimes,
    Record,
    WriteOutcome,
    ordered_from_filter,
    scan_matching,
)
from asyncdb.drivers.firestore._bulk import batch_write
from asyncdb.drivers.firestore._codec import KEPT_BODY_FIELD, KEPT_REV_FIELD, format_revision
from asyncdb.drivers.firestore._query import build_query, key_range_query, run_query
from asyncdb.drivers.firestore._records import (
    KEY_BUDGET,
    addressable,
    body_digest,
    key_field,
    record_of,
)
from asyncdb.drivers.firestore._registry import READY, Registry
from asyncdb.drivers.firestore._transport import Connection, Transport
from asyncdb.errors import ConflictError, InvalidQueryError

if TYPE_CHECKING:
    from asyncdb._query import FieldPath, Order, Query

__all__ = ["IndexMixin"]

logger = logging.getLogger("asyncdb")

_Write: Final[Any] = types.Write.pb()
_GetDocumentRequest: Final[Any] = types.GetDocumentRequest.pb()


class IndexMixin:
    """``ensure_index``, ``can_find`` and ``find`` of ``FirestoreDriver``."""

    _transport: Transport
    _page_size: int
    _registry: Registry
    _stale_warned: FirstTimes

    async def _write_layouts(self, conn: Connection, collection: str) -> tuple[KeyLayout, ...]:
        """The indexes a write to ``collection`` keeps: every registered one, building or
        ready (the registry is read again first when the cache is stale)."""
        return (await self._registry.current(conn, collection)).layouts()

    # -- queries ---------------------------------------------------------------------------
    def can_find(self, collection: str, query: Query) -> bool:
        """Natively: a query a ready index of the cached registry serves, or an unordered
        equality query (Firestore's own filter)."""
        snapshot = self._registry.cached(collection)
        if snapshot is not None:
            layouts = snapshot.layouts(ready_only=True)
            if layouts and best_plan(layouts, query, budget=KEY_BUDGET) is not None:
                return True
        return query.simple

    async def find(self, collection: str, query: Query, limit: int | None) -> list[Record]:
        conn = await self._transport.connection()
        snapshot = await self._registry.current(conn, collection)
        layouts = snapshot.layouts(ready_only=True)
        plan = best_plan(layouts, query, budget=KEY_BUDGET) if layouts else None
        if plan is not None:
            field = key_field(plan.layout)
            read = self._range_reader(conn, collection, field, limit)
            try:
                return await read_plan(plan, query, limit, read, budget=KEY_BUDGET)
            except StaleKey as stale:
                self._warn_stale(collection, field, stale.doc_id)
        # No ready index serves it (or one holds a wrong key): the filter (Firestore's
        # own, or a scan's), then the order here.

        async def filtered(matching: Query, wanted: int | None) -> list[Record]:
            if matching.simple:
                return await self._filter_find(conn, collection, matching, wanted)
            return await scan_matching(self, collection, matching, wanted)  # type: ignore[arg-type]

        return await ordered_from_filter(query, limit, filtered)

    def _warn_stale(self, collection: str, field: str, doc_id: str) -> None:
        if not self._stale_warned.first(collection):
            return
        logger.warning(
            "find on %r: the index key %s of document %r is not its key (a writer that did "
            "not keep the index, e.g. an older asyncdb); the query is answered from the "
            "filter and ordered in asyncdb. Run ensure_index again to repair the keys",
            collection,
            field,
            doc_id,
        )

    def _range_reader(
        self, conn: Connection, collection: str, field: str, limit: int | None
    ) -> Any:
        """``read(range, descending)`` for ``read_plan``: pages of (stored key, record), in
        key order, one ``RunQuery`` each, pulled lazily."""
        transport, most = self._transport, self._page_size

        async def read(
            span: ByteRange, descending: bool
        ) -> AsyncIterator[Sequence[tuple[bytes, Record]]]:
            # The first page fits the limit (read_plan may drop the row a page resumes at,
            # and rows tied on a cut string), the next ones are full.
            size = most if limit is None else min(most, limit + 2)
            after: tuple[bytes, str] | None = None
            while True:
                structured = key_range_query(
                    conn.documents_path,
                    collection,
                    field,
                    span,
                    descending=descending,
                    after=after,
                    limit=size,
                )
                documents = await run_query(transport, conn, structured)
                rows: list[tuple[bytes, Record]] = []
                for document in documents:
                    record = addressable(document)
                    if record is not None:
                        rows.append((bytes(document.fields[field].bytes_value), record))
                if rows:
                    yield rows
                if len(documents) < size:
                    return
                last = documents[-1]
                after = (bytes(last.fields[field].bytes_value), last.name)
                size = most

        return read

    async def _filter_find(
        self, conn: Connection, collection: str, query: Query, limit: int | None
    ) -> list[Record]:
        """An unordered equality query by Firestore's own filter, paged by document id."""
        matches: list[Record] = []
        after: str | None = None
        while True:
            # The server's filter is exact for the portable operators, so asking for just
            # the matches still missing is enough; the re-check guards foreign values.
            wanted = (
                self._page_size if limit is None else min(self._page_size, limit - len(matches))
            )
            structured = build_query(
                conn.documents_path, collection, after=after, limit=wanted, query=query
            )
            documents = await run_query(self._transport, conn, structured)
            for document in documents:
                record = addressable(document)
                if record is not None and query.matches(record.body):
                    matches.append(record)
            if len(documents) < wanted or (limit is not None and len(matches) >= limit):
                return matches
            after = documents[-1].name.rpartition("/")[2]

    # -- making an index -------------------------------------------------------------------
    async def ensure_index(
        self, collection: str, fields: Sequence[FieldPath], *, order_by: Sequence[Order] = ()
    ) -> None:
        """Register the index (``building``), wait until every writer knows of it, key the
        documents written before, then mark it ``ready``. At once if it is ready."""
        layout = KeyLayout.for_index(fields, order_by)
        try:
            encode_key(layout, "", {}, budget=KEY_BUDGET)
        except ValueError as exc:
            raise InvalidQueryError(f"ensure_index on {collection!r}: {exc}") from None
        conn = await self._transport.connection()
        registry = self._registry
        snapshot = await registry.register(conn, collection, layout)
        entry = snapshot.entries[layout.digest]
        if entry.state == READY:
            return
        # Every writer reads the registry again before a write once its copy is older
        # than ``refresh`` seconds, so a write that begins ``refresh`` after registration
        # keys the new index. One more period lets the writes that began before it (with
        # a copy that lacked the index) finish; the backfill then sees their documents.
        # Measured on the server's clock (registration and the read's time), not ours.
        wait = entry.registered + 2 * registry.refresh - snapshot.server_now
        if wait > 0:
            logger.info(
                "firestore: ensure_index on %r waits %.1f s for every writer to learn of it",
                collection,
                wait,
            )
            await anyio.sleep(wait)
        await self._backfill(conn, collection, layout)
        await registry.mark_ready(conn, collection, layout)
        logger.info("firestore: index %s of %r is ready", layout.digest, collection)

    async def _backfill(self, conn: Connection, collection: str, layout: KeyLayout) -> None:
        """Write the key of every document that lacks it or holds a wrong one: only that
        field (an update mask), on condition that the document did not change since it
        was read; a document changed meanwhile got its key from its writer."""
        field = key_field(layout)
        where = f"ensure_index {collection}"
        after: str | None = None
        while True:
            structured = build_query(
                conn.documents_path, collection, after=after, limit=self._page_size
            )
            documents = await run_query(self._transport, conn, structured)
            prepared: list[tuple[int, Any]] = []
            outcomes: list[WriteOutcome] = []
            for document in documents:
                record = addressable(document)
                if record is None:
                    continue
                key = encode_key(layout, record.id, record.body, budget=KEY_BUDGET)
                stored = document.fields.get(field)
                if stored is not None and stored.bytes_value == key:
                    continue
                prepared.append((len(outcomes), _keyed(document, field, key, record)))
                outcomes.append(WriteOutcome(record.id))
            if prepared:
                await batch_write(self._transport, conn, where, prepared, outcomes, None)
                for outcome in outcomes:
                    # A conflict: the document changed (or went) since it was read.
                    if outcome.error is not None and not isinstance(outcome.error, ConflictError):
                        raise outcome.error
            if len(documents) < self._page_size:
                return
            after = documents[-1].name.rpartition("/")[2]

    # -- revisions kept across a backfill ---------------------------------------------------
    async def _kept_stamp(self, conn: Connection, collection: str, doc_id: str, rev: str) -> Any:
        """The ``update_time`` to write against when ``rev`` is the revision a document
        kept through a backfill (``None``: it is not; the conflict stands)."""
        known = self._registry.cached(collection)
        if known is None or not known.entries:
            return None  # no index, no backfill: nothing kept (and no extra read)
        request = types.GetDocumentRequest.wrap(
            _GetDocumentRequest(name=conn.name(collection, doc_id))
        )
        transport = self._transport

        async def call() -> Any:
            try:
                found = await conn.client.get_document(
                    request=request, retry=None, timeout=transport.timeout, metadata=conn.metadata
                )
            except gexc.NotFound:
                return None
            return types.Document.pb(found)

        document = await transport.call(f"get {collection}/{doc_id}", call)
        if document is None:
            return None
        record = record_of(document)
        if record is None or record.id != doc_id or record.rev != rev:
            return None
        if format_revision(document.update_time) == rev:
            return None  # the revision is current after all: the conflict was real
        return document.update_time


def _keyed(document: Any, field: str, key: bytes, record: Record) -> Any:
    """The write that adds ``key`` to a stored document and keeps its revision."""
    write = _Write()
    write.update.name = document.name
    fields = write.update.fields
    fields[field].bytes_value = key
    fields[KEPT_REV_FIELD].string_value = record.rev
    fields[KEPT_BODY_FIELD].string_value = body_digest(record.body)
    write.update_mask.field_paths.extend([field, KEPT_REV_FIELD, KEPT_BODY_FIELD])
    write.current_document.update_time.CopyFrom(document.update_time)
    return write
