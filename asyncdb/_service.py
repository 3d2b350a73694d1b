"""``DatabaseService``: the face. One concrete class over any driver.

Everything portable lives here, once: validation of names, ids and documents (the
contract in ``asyncdb._documents``), copies in and out, error shaping, chunking of bulk
calls, the read-modify-write loop of ``update``, pagination cursors. Drivers only talk to
their backend.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping, Sequence
from typing import Any

from asyncdb._bulk import chunks, id_list, plan_deletes, plan_writes
from asyncdb._coalesce import install as install_coalescing
from asyncdb._cursor import decode_cursor, encode_cursor
from asyncdb._documents import (
    Document,
    validate_collection_name,
    validate_document_id,
    validate_revision,
)
from asyncdb._find import Finder
from asyncdb._guard import LoopBinding, guarded
from asyncdb._patch import parse_patch, patch_document
from asyncdb._query import index_fields, parse_query
from asyncdb._results import BulkResult, Page
from asyncdb._retry import RetryPolicy
from asyncdb._sizes import SizeGuard
from asyncdb.drivers.base import DeleteRequest, Driver, Record, WriteRequest, for_each_concurrently
from asyncdb.errors import (
    BackendError,
    ConflictError,
    InvalidDocumentError,
    InvalidNameError,
    NotFoundError,
    ValidationError,
)

__all__ = ["DatabaseService", "UpdateFunction"]

#: The pause between update()'s attempts after losing a race to another writer: short,
#: since the winner has already written; full jitter, so that racing writers spread out.
_LOST_RACES = RetryPolicy(base_delay=0.002, max_delay=0.2)

logger = logging.getLogger("asyncdb")

#: ``update``'s callback: takes the current document, returns the new one (or mutates it in
#: place and returns ``None``); plain or async.
UpdateFunction = Callable[[Document], Document | Awaitable[Document | None] | None]

DEFAULT_UPDATE_ATTEMPTS = 20
MAX_PAGE_SIZE = 1000
_NAME_CACHE_SIZE = 1024


class DatabaseService:
    """The awaited API of asyncdb, identical on every backend.

    Build it with ``create_database_service`` / ``get_database_service`` (from settings) or
    directly over a driver. It owns the driver unless ``close_driver=False``: ``aclose()``
    (or leaving ``async with``) closes it.
    Concurrent gets and saves go out together as native batches unless ``coalesce=False``
    (``DATABASE_COALESCE``; docs/performance/coalescing.md).

    It runs on one event loop, the first that uses it (its driver's connections belong to
    that loop): a call from another loop raises ``WrongEventLoopError`` instead of hanging.
    """

    def __init__(
        self,
        driver: Driver,
        *,
        close_driver: bool = True,
        update_attempts: int = DEFAULT_UPDATE_ATTEMPTS,
        size_limit: str = "portable",
        coalesce: bool = True,
    ) -> None:
        if update_attempts < 1:
            raise ValueError("update_attempts must be at least 1")
        self._sizes = SizeGuard(driver, size_limit)
        self._driver = driver
        # Concurrent gets and saves go out as native batches (asyncdb._coalesce); every
        # other call goes to the driver as it is.
        self._batching = install_coalescing(driver) if coalesce else driver
        self._close_driver = close_driver
        self._update_attempts = update_attempts
        self._closed = False
        self._loop_binding = LoopBinding("this DatabaseService")
        self._description = driver.describe()
        self._known_collections: set[str] = set()
        self._finder = Finder(driver)

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<DatabaseService {self._description} {state}>"

    @property
    def driver(self) -> Driver:
        """The driver (with its middleware) this service talks to."""
        return self._driver

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def size_limit(self) -> str:
        """``"portable"`` (the contract's 400,000 bytes everywhere) or ``"native"`` (the
        backend's own limit by its own measure): ``DATABASE_SIZE_LIMIT``."""
        return self._sizes.mode

    # -- lifecycle -------------------------------------------------------------------------
    async def __aenter__(self) -> DatabaseService:
        try:
            await self.open()
        except BaseException:
            await self.aclose()  # __aexit__ will not run: release what open() acquired
            raise
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    @guarded
    async def open(self) -> None:
        """Connect eagerly (optional: the first operation connects too)."""
        await self._driver.open()
        self._sizes.opened()

    async def aclose(self) -> None:
        """Release the driver's sessions and pools. Idempotent."""
        if self._closed:
            return
        self._loop_binding.check()  # a driver's connections close on their own loop only
        self._closed = True
        if self._close_driver:
            await self._driver.aclose()

    @guarded
    async def ping(self) -> None:
        """Raise ``BackendUnavailableError`` or ``AuthenticationError`` if unusable."""
        await self._driver.ping()

    # -- single documents ------------------------------------------------------------------
    @guarded
    async def get(self, collection: str, doc_id: str) -> Document:
        """The document with ``_id`` and ``_rev``; ``NotFoundError`` (404) if missing."""
        self._collection(collection)
        validate_document_id(doc_id)
        record = await self._batching.get(collection, doc_id)
        if record is None:
            raise NotFoundError(collection, doc_id)
        return _document(record)

    @guarded
    async def save(self, collection: str, doc_id: str, doc: Mapping[str, Any] | Any) -> Document:
        """Upsert ``doc`` and return it as stored, with its new ``_rev``.

        If ``doc`` carries ``_rev`` the write happens only if that is still the current
        revision, else ``ConflictError`` (409). Without ``_rev``: last writer wins.
        """
        self._collection(collection)
        validate_document_id(doc_id)
        prepared = await self._sizes.prepare(doc_id, doc)
        rev = await self._batching.put(collection, doc_id, prepared.body, if_rev=prepared.rev)
        return {"_id": doc_id, "_rev": rev, **prepared.body}

    @guarded
    async def create(self, collection: str, doc_id: str, doc: Mapping[str, Any] | Any) -> Document:
        """Write ``doc`` only if ``doc_id`` is free, else ``ConflictError`` (409)."""
        self._collection(collection)
        validate_document_id(doc_id)
        prepared = await self._sizes.prepare(doc_id, doc)
        if prepared.rev is not None:
            raise InvalidDocumentError("create() takes a new document, without _rev", "$._rev")
        rev = await self._driver.put(collection, doc_id, prepared.body, if_absent=True)
        return {"_id": doc_id, "_rev": rev, **prepared.body}

    async def update(
        self,
        collection: str,
        doc_id: str,
        fn: UpdateFunction,
        *,
        default: Mapping[str, Any] | None = None,
        attempts: int | None = None,
    ) -> Document:
        """Read, apply ``fn``, write back conditionally; retry on conflict.

        ``fn`` gets a private copy of the current document and returns the new one (or
        mutates it and returns ``None``); it may be async and may run more than once, so it
        should have no other side effects. A missing document raises ``NotFoundError``
        unless ``default`` is given, in which case ``fn`` gets a copy of ``default`` and the
        result is created. After ``attempts`` lost races: ``ConflictError``.
        """
        attempts = self._update_attempts if attempts is None else attempts
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        for attempt in range(attempts):
            current: Document | None
            try:
                current = await self.get(collection, doc_id)
            except NotFoundError:
                if default is None:
                    raise
                current = None
            if current is None:  # fn sees the new document as it would see a stored one
                body = self._sizes.prepare_portable(default, doc_id).body
                base = {"_id": doc_id, **body}
            else:
                base = current
            result = fn(base)
            if inspect.isawaitable(result):
                result = await result
            new_doc = base if result is None else result
            if not isinstance(new_doc, Mapping):
                raise InvalidDocumentError(
                    f"update function returned {type(new_doc).__name__}, not a document"
                )
            try:
                if current is None:
                    return await self.create(collection, doc_id, _without_rev(new_doc))
                return await self.save(collection, doc_id, {**new_doc, "_rev": current["_rev"]})
            except ConflictError:
                logger.debug(
                    "update of %r in %r lost a race (attempt %d)", doc_id, collection, attempt + 1
                )
                await _LOST_RACES.back_off(attempt)
        raise ConflictError(
            f"update of {doc_id!r} in {collection!r} lost {attempts} races in a row; giving up"
        )

    async def patch(
        self,
        collection: str,
        doc_id: str,
        *,
        set: Mapping[str, Any] | None = None,
        unset: Sequence[str] | None = None,
        increment: Mapping[str, int | float] | None = None,
        rev: str | None = None,
        attempts: int | None = None,
    ) -> Document:
        """``set`` / ``unset`` / ``increment`` fields by dotted path (``asyncdb._patch``);
        with ``rev`` only over that revision (409 when stale). Atomic where the driver can
        (``Driver.patch``), else ``update``'s revision loop (``attempts``): nothing lost."""
        self._collection(collection)
        validate_document_id(doc_id)
        patch = parse_patch(set, unset, increment)
        return await patch_document(self, collection, doc_id, patch, rev=rev, attempts=attempts)

    @guarded
    async def delete(self, collection: str, doc_id: str, rev: str | None = None) -> bool:
        """Delete the document; return whether it existed. A missing one is not an error.

        With ``rev`` it deletes only that revision: ``ConflictError`` (409) if the document
        has another one. A malformed ``rev`` (not 1 to 256 printable ASCII characters) is
        ``InvalidDocumentError`` (422), before any I/O.
        """
        self._collection(collection)
        validate_document_id(doc_id)
        if rev is not None:
            validate_revision(rev, "rev")
        return await self._driver.delete(collection, doc_id, if_rev=rev)

    # -- listing ---------------------------------------------------------------------------
    async def list_all(self, collection: str) -> list[Document]:
        """Every document of the collection; ``[]`` if it does not exist.

        Prefer ``iter_all`` for large collections: it holds one page at a time.
        """
        return [doc async for doc in self.iter_all(collection)]

    async def iter_all(self, collection: str, page_size: int = 500) -> AsyncGenerator[Document]:
        """Stream every document, page by page, in constant memory."""
        self._collection(collection)
        _check_limit(page_size, "page_size")
        after: str | None = None
        while True:
            records, after = await self._scan(collection, after, page_size)
            for record in records:
                yield _document(record)
            if after is None:
                return

    @guarded
    async def list_page(self, collection: str, limit: int = 100, cursor: str | None = None) -> Page:
        """One page of at most ``limit`` documents and the cursor of the next page.

        ``next_cursor`` is ``None`` exactly when no document follows. A cursor that asyncdb
        did not issue for this collection raises ``InvalidCursorError`` (400).
        """
        self._collection(collection)
        _check_limit(limit, "limit")
        after = None if cursor is None else decode_cursor(collection, cursor)
        records: list[Record] = []
        # One record more than asked tells whether another page follows.
        while len(records) <= limit:
            page, after = await self._driver_scan(collection, after, limit + 1 - len(records))
            records.extend(page)
            if after is None:
                break
        items = [_document(record) for record in records[:limit]]
        next_cursor = encode_cursor(collection, items[-1]["_id"]) if len(records) > limit else None
        return Page(items, next_cursor)

    @guarded
    async def _scan(
        self, collection: str, after: str | None, limit: int
    ) -> tuple[list[Record], str | None]:
        return await self._driver_scan(collection, after, limit)

    async def _driver_scan(
        self, collection: str, after: str | None, limit: int
    ) -> tuple[list[Record], str | None]:
        page = await self._driver.scan(collection, after=after, limit=limit)
        return page.records, page.last_key

    # -- bulk ------------------------------------------------------------------------------
    @guarded
    async def get_many(self, collection: str, ids: Sequence[str]) -> dict[str, Document | None]:
        """``{id: document or None}`` in the order of ``ids``, in as few round trips as the
        backend allows. Every id is checked before any I/O."""
        self._collection(collection)
        wanted = list(dict.fromkeys(validate_document_id(doc_id) for doc_id in id_list(ids)))
        found: dict[str, Record] = {}

        async def fetch(chunk: list[str]) -> None:
            found.update(await self._driver.get_many(collection, chunk))

        await self._run_chunks(fetch, chunks(wanted, self._driver.limits.max_get_batch))
        return {
            doc_id: (_document(found[doc_id]) if doc_id in found else None) for doc_id in wanted
        }

    @guarded
    async def save_many(
        self, collection: str, docs: Sequence[Mapping[str, Any] | Any]
    ) -> BulkResult:
        """Save many documents (each carries ``_id``; ``_rev`` makes its write conditional).

        One outcome per document, in order; an invalid or conflicting document fails alone.
        The same ``_id`` twice is ``InvalidDocumentError`` (422) for the whole call, before
        any I/O.
        """
        self._collection(collection)
        if isinstance(docs, Mapping | str | bytes):
            raise ValidationError("save_many takes a list of documents")
        outcomes, writes = plan_writes(docs, self._sizes.prepare_portable)
        writes = await self._sizes.keep_fitting(outcomes, writes)

        async def write(chunk: list[tuple[int, WriteRequest]]) -> None:
            results = await self._driver.put_many(collection, [w for _, w in chunk])
            for (index, _), result in zip(chunk, results, strict=True):
                outcomes[index] = result

        await self._run_chunks(write, chunks(writes, self._driver.limits.max_write_batch))
        return BulkResult(outcomes)

    @guarded
    async def delete_many(
        self, collection: str, ids: Sequence[str | Mapping[str, Any]]
    ) -> BulkResult:
        """Delete many documents, given as ids or as documents (whose ``_rev`` makes the
        delete conditional). One outcome per item; missing documents succeed. The same id
        twice is ``InvalidDocumentError`` (422) for the whole call, before any I/O."""
        self._collection(collection)
        outcomes, deletes = plan_deletes(ids)

        async def remove(chunk: list[tuple[int, DeleteRequest]]) -> None:
            results = await self._driver.delete_many(collection, [d for _, d in chunk])
            for (index, _), result in zip(chunk, results, strict=True):
                outcomes[index] = result

        await self._run_chunks(remove, chunks(deletes, self._driver.limits.max_write_batch))
        return BulkResult(outcomes)

    async def _run_chunks(self, work: Callable[[Any], Awaitable[None]], chunks: list[Any]) -> None:
        if len(chunks) <= 1 or self._driver.limits.max_concurrency <= 1:
            for chunk in chunks:
                await work(chunk)
            return
        await for_each_concurrently(self._driver.limits.max_concurrency, chunks, work)

    # -- queries and administration --------------------------------------------------------
    @guarded
    async def find(
        self,
        collection: str,
        where: Mapping[str, Any],
        fields: Sequence[str] | None = None,
        limit: int | None = None,
        *,
        order_by: Sequence[str] | None = None,
        strict: bool = False,
    ) -> list[Document]:
        """Documents matching ``where`` in ``order_by`` order, as a filtered scan would
        give them (docs/api.md, "Queries"); ``strict=True``: never scan."""
        self._collection(collection)
        query = parse_query(where, fields, order_by)
        if limit is not None:
            _check_limit(limit, "limit", maximum=None)
        return await self._finder.find_documents(collection, query, limit, strict=strict)

    @guarded
    async def find_page(
        self,
        collection: str,
        where: Mapping[str, Any],
        *,
        order_by: Sequence[str] | None = None,
        limit: int = 100,
        cursor: str | None = None,
        strict: bool = False,
    ) -> Page:
        """One page of ``find`` (by ``order_by``, else ``_id``) and the next cursor, bound
        to this collection, ``where`` and ``order_by`` (else ``InvalidCursorError``)."""
        self._collection(collection)
        query = parse_query(where, None, order_by)
        _check_limit(limit, "limit")
        return await self._finder.page(collection, query, limit, cursor, strict=strict)

    @guarded
    async def ensure_index(
        self, collection: str, fields: Sequence[str], *, order_by: Sequence[str] | None = None
    ) -> None:
        """Ask the backend for an index serving queries on ``fields`` (equality fields,
        then range fields) in ``order_by``'s order, where it needs one (idempotent)."""
        self._collection(collection)
        names, order = index_fields(fields, order_by)
        await self._driver.ensure_index(collection, names, order_by=order)

    @guarded
    async def list_collections(self) -> list[str]:
        """Names of the collections that exist (with this service's prefix, shown without
        it), sorted. A backend may list a collection that was emptied but not dropped
        (CouchDB databases, DynamoDB tables). Names that are not valid collection names (a
        backend's system databases or tables) are left out. ``BackendError`` if the
        backend cannot list."""
        try:
            names = await self._driver.list_collections()
        except NotImplementedError as exc:
            raise BackendError(
                f"{self._description} cannot list its collections; name them explicitly"
            ) from exc
        valid = []
        for name in names:
            try:
                valid.append(validate_collection_name(name))
            except InvalidNameError:
                continue
        return sorted(valid)

    @guarded
    async def drop_collection(self, collection: str) -> None:
        """Delete the collection and all its documents; a missing one is not an error."""
        self._collection(collection)
        await self._driver.drop_collection(collection)

    @guarded
    async def check_document(self, doc_id: str, doc: Mapping[str, Any] | Any) -> Document:
        """Check ``doc`` as ``save`` would (id, contract, size limit of this service's
        ``size_limit``) without writing it; return it as it would be stored, with ``_id``.

        For tools that must know that every document fits before writing any (``migrate``,
        ``import``). Raises what ``save`` raises before I/O; under ``native`` it may connect
        to learn the backend's limit.
        """
        validate_document_id(doc_id)
        prepared = await self._sizes.prepare(doc_id, doc)
        return {"_id": doc_id, **prepared.body}

    def _collection(self, name: str) -> None:
        if type(name) is str and name in self._known_collections:
            return
        validate_collection_name(name)
        if len(self._known_collections) < _NAME_CACHE_SIZE:
            self._known_collections.add(name)


def _document(record: Record) -> Document:
    return {"_id": record.id, "_rev": record.rev, **record.body}


def _without_rev(doc: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in doc.items() if key != "_rev"}


def _check_limit(value: object, name: str, maximum: int | None = MAX_PAGE_SIZE) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationError(f"{name} must be a positive integer")
    if maximum is not None and value > maximum:
        raise ValidationError(f"{name} must be at most {maximum}")
