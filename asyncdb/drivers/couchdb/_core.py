"""What every part of the CouchDB driver shares: configuration, requests, revisions, the
ids the server is known to hold, and turning stored documents into records."""

from __future__ import annotations

import json
import logging
import re
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, Final
from urllib.parse import quote

from asyncdb._retry import Attempts, RetryPolicy
from asyncdb.drivers.base import Body, Driver, DriverLimits, Record
from asyncdb.drivers.couchdb import _ids
from asyncdb.drivers.couchdb._codec import (
    decode_body,
    dumps,
    generation,
    misstamped,
    stamp,
    stored_id,
)
from asyncdb.drivers.couchdb._transport import Reply, Transport, segment
from asyncdb.drivers.couchdb.settings import CouchDBSettings
from asyncdb.errors import BackendError, BackendUnavailableError, ConflictError

logger = logging.getLogger("asyncdb")

#: The shape of a CouchDB revision. A ``_rev`` of any other shape cannot be current, and
#: CouchDB would refuse a whole ``_bulk_docs`` request over it (400), so it fails alone.
REVISION: Final = re.compile(r"[0-9]+-[0-9A-Za-z]+")
#: How many (database, key) pairs the driver remembers as held by the server.
KNOWN_IDS: Final = 50_000
#: CouchDB's default ``[couchdb] max_document_size``, used when the server's is unreadable.
DEFAULT_MAX_DOCUMENT_SIZE: Final = 8_000_000
#: The pause before re-reading a revision after losing a race to another writer
#: (``RACES.back_off(n)``): short, because the other writer's request is already on its
#: way. Only its back-off is used; the write loops bound their own attempts.
RACES: Final = RetryPolicy(base_delay=0.002, max_delay=0.1)


class KnownIds:
    """A bounded LRU of the (database, key) pairs that have a revision tree on the server.

    Once CouchDB holds any revision of an id, the id keeps a revision tree (a tombstone
    after a delete) until the database is deleted or the id purged, and a write with a
    made-up revision is then a 409. Only for an id without a tree does CouchDB 3.x create
    a "phantom" document from a conditional write, so only such ids need a check first.
    """

    def __init__(self, size: int = KNOWN_IDS) -> None:
        self._size = size
        # The highest revision generation seen per pair (0: none seen yet), so that a
        # document made again over a tombstone gets marks for its real generation.
        self._pairs: OrderedDict[tuple[str, str], int] = OrderedDict()

    def add(self, database: str, key: str, rev: object = None) -> None:
        pair = (database, key)
        self._pairs[pair] = max(self._pairs.get(pair, 0), generation(rev))
        self._pairs.move_to_end(pair)
        if len(self._pairs) > self._size:
            self._pairs.popitem(last=False)

    def generation(self, database: str, key: str) -> int:
        return self._pairs.get((database, key), 0)

    def __contains__(self, pair: tuple[str, str]) -> bool:
        return pair in self._pairs

    def forget_database(self, database: str) -> None:
        for pair in [pair for pair in self._pairs if pair[0] == database]:
            del self._pairs[pair]


class CouchCore(Driver):
    """The shared state and plumbing of ``CouchDBDriver`` (see its docstring)."""

    name = "couchdb"
    settings_class = CouchDBSettings
    limits = DriverLimits(
        max_get_batch=500,
        max_write_batch=500,
        max_concurrency=4,
        scan_page_size=1000,
        native_document_bytes=DEFAULT_MAX_DOCUMENT_SIZE,
    )

    # Set by ``CouchDBDriver.__init__``.
    _transport: Transport
    _write_attempts: int
    _find_page_size: int
    # Whether HEAD's ETag is the revision (CouchDB) or an opaque hash (pouchdb-server);
    # learnt from the first HEAD, then the cheaper way is used directly.
    _etag_is_revision: bool | None
    _known: KnownIds

    # -- requests --------------------------------------------------------------------------
    async def _request(
        self,
        method: str,
        path: str,
        payload: Any = None,
        passthrough: tuple[int, ...] = (),
        attempts: Attempts | None = None,
    ) -> Reply:
        """``Transport.request`` with a JSON body; a write passes its ``attempts``."""
        body = None if payload is None else dumps(payload).encode()
        return await self._transport.request(
            method, path, body=body, passthrough=passthrough, attempts=attempts
        )

    async def _write(
        self,
        collection: str,
        method: str,
        path: str,
        payload: Any,
        *,
        attempts: Attempts,
        passthrough: tuple[int, ...] = (),
    ) -> Reply:
        """A write that creates the database when it finds it missing, then retries once.
        ``attempts`` follows both sends (``attempts.ambiguous``: one may have landed)."""
        body = dumps(payload).encode()
        statuses = (404, *passthrough)
        send = self._transport.request
        reply = await send(method, path, body=body, passthrough=statuses, attempts=attempts)
        if reply.status == 404:
            await self._create_database(collection)
            reply = await send(method, path, body=body, passthrough=statuses, attempts=attempts)
            if reply.status == 404:
                raise BackendError(
                    f"CouchDB at {self._transport.address.redacted}: database {collection!r} "
                    "vanished right after it was created"
                )
        return reply

    async def _create_database(self, collection: str) -> None:
        # 412: another writer created it first, which is just as good.
        await self._transport.request("PUT", db_path(collection), passthrough=(412,))
        logger.debug("created CouchDB database %r", collection)

    async def _current_rev(self, collection: str, key: str) -> str | None:
        """The current revision of a live document, or ``None``: HEAD's ETag on CouchDB."""
        if self._etag_is_revision is not False:
            reply = await self._transport.request(
                "HEAD", doc_path(collection, key), passthrough=(404,)
            )
            if reply.status == 404:
                return None
            etag = reply.headers.get("ETag", "")
            rev = rev_of(etag.strip().strip('"'))
            if rev is not None:
                self._etag_is_revision = True
                self._known.add(collection, key, rev)
                return rev
            if self._etag_is_revision is None:
                logger.debug("CouchDB ETag is not a revision here; reading revisions by key")
            self._etag_is_revision = False
        reply = await self._transport.request(
            "GET", f"{db_path(collection)}/_all_docs?key={json_param(key)}", passthrough=(404,)
        )
        if reply.status == 404:
            return None
        rev = self._live_revs(collection, reply.data).get(key)
        return rev

    async def _current_revs(self, collection: str, keys: Sequence[str]) -> dict[str, str]:
        """Current revisions of the live documents among ``keys``, in one request."""
        if not keys:
            return {}
        reply = await self._request(
            "POST", f"{db_path(collection)}/_all_docs", {"keys": list(keys)}, passthrough=(404,)
        )
        return {} if reply.status == 404 else self._live_revs(collection, reply.data)

    def _live_revs(self, collection: str, data: Any) -> dict[str, str]:
        revs: dict[str, str] = {}
        for row in rows_of(data):
            value = row.get("value")
            if "error" in row or not isinstance(value, dict):
                continue
            key = str(row.get("id"))
            rev = value.get("rev")
            self._known.add(collection, key, rev)  # a tombstone is a revision tree too
            if not value.get("deleted") and isinstance(rev, str):
                revs[key] = rev
        return revs

    async def _restamp(self, collection: str, key: str, payload: Body, rev: str) -> str:
        """``rev`` once ``payload``'s marks are valid for it. A document made without a
        revision over a tombstone the driver had not seen gets a later generation than its
        marks say (they would be ignored on reading): it is written once more on top of
        ``rev``. Only documents with marks, only in that case; a failure leaves the
        document as written (it then reads as its plain JSON) and is logged."""
        if not misstamped(payload, rev):
            return rev
        stamp(payload, rev)
        try:
            reply = await self._request(
                "PUT", doc_path(collection, key), payload, (409,), attempts=Attempts()
            )
        except BackendUnavailableError:
            logger.warning("CouchDB: could not re-mark the numbers of %r in %r", key, collection)
            return rev
        if reply.status == 409:
            return rev  # another writer came in between: theirs is the current document
        rev = new_rev(reply)
        self._known.add(collection, key, rev)
        return rev

    # -- stored documents to records ---------------------------------------------------------
    def _record(
        self, collection: str, key: str, doc: Any, wanted: str | None, projected: bool = False
    ) -> Record | None:
        """The record of the document stored under ``key``; ``None`` if it is none of the
        caller's (a design document, a key asyncdb cannot have written, a digest key
        whose stored id is missing or, for a read of ``wanted``, another id)."""
        decoded = _ids.decode(key)
        if decoded is None:
            return None
        if not isinstance(doc, dict) or not isinstance(doc.get("_rev"), str):
            logger.warning("CouchDB returned a malformed document under %r; skipped", key)
            return None
        self._known.add(collection, key, doc["_rev"])
        doc_id = decoded.id if not decoded.digest else stored_id(doc)
        if decoded.digest and doc_id is not None and _ids.encode(doc_id) != key:
            doc_id = None  # a listing must not name an id that a read would not find
        if doc_id is None or (wanted is not None and doc_id != wanted):
            logger.warning("CouchDB document %r does not hold the id it is stored for", key)
            return None
        rev: str = doc["_rev"]
        return Record(doc_id, rev, decode_body(doc, projected=projected))

    def _stale(self, collection: str, doc_id: str) -> ConflictError:
        return ConflictError(f"stale revision for document {doc_id!r} in {collection!r}")


def rev_of(value: object) -> str | None:
    return value if isinstance(value, str) and REVISION.fullmatch(value) else None


def json_param(value: str) -> str:
    """A JSON string as a query-string value (startkey, endkey, key)."""
    return quote(json.dumps(value, ensure_ascii=False), safe="")


def db_path(collection: str) -> str:
    return "/" + segment(collection)


def doc_path(collection: str, key: str) -> str:
    return f"/{segment(collection)}/{segment(key)}"


def rows_of(data: Any) -> list[dict[str, Any]]:
    rows = data.get("rows") if isinstance(data, dict) else None
    if not isinstance(rows, list):
        raise BackendError("CouchDB answered _all_docs without rows")
    return [row for row in rows if isinstance(row, dict)]


def new_rev(reply: Reply) -> str:
    rev = reply.data.get("rev") if isinstance(reply.data, dict) else None
    if not isinstance(rev, str):
        raise BackendError("CouchDB acknowledged a write without a revision")
    return rev
