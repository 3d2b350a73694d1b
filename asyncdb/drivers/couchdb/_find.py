"""``find`` over Mango ``_find`` and ``ensure_index`` (the selectors are built in
``_mango``). Pages follow stored keys (``_id``); every result is checked again with
``Query.matches`` and decoded to the caller's id."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

from asyncdb.drivers.base import Record
from asyncdb.drivers.couchdb._codec import MARKER
from asyncdb.drivers.couchdb._core import CouchCore, db_path
from asyncdb.drivers.couchdb._mango import (
    PLAIN_FIELD,
    Index,
    choose_index,
    equality_fields,
    find_request,
    selector,
)
from asyncdb.drivers.couchdb._transport import reason_of
from asyncdb.errors import BackendError

if TYPE_CHECKING:
    from asyncdb._query import Query

logger = logging.getLogger("asyncdb")

_UTF16_MAX: Final = "\uffff" * 8


class _Unknown:
    """A setting not learnt from the server yet."""


_UNKNOWN: Final = _Unknown()


class FindOps(CouchCore):
    """Queries, indexes and the scan bounds they share with ``scan``."""

    # The ``endkey`` a scan sends: none on CouchDB (its default covers every id);
    # pouchdb-server's in-memory store stops early without one. Learnt from ``GET /``.
    _scan_endkey: str | _Unknown | None = _UNKNOWN
    # The json indexes ending in ``_id`` of each database, read once per process with
    # the first ``find`` that could use one, and kept up to date by ``ensure_index``.
    _index_cache: dict[str, set[Index]] | None = None

    @property
    def _indexes(self) -> dict[str, set[Index]]:
        if self._index_cache is None:
            self._index_cache = {}
        return self._index_cache

    async def _endkey(self) -> str | None:
        if isinstance(self._scan_endkey, _Unknown):
            reply = await self._transport.request("GET", "/")
            welcome = reply.data if isinstance(reply.data, dict) else {}
            # pouchdb-server orders ids as UTF-16 strings: this sorts after every id.
            self._scan_endkey = None if "couchdb" in welcome else _UTF16_MAX
        return self._scan_endkey

    async def find(self, collection: str, query: Query, limit: int | None) -> list[Record]:
        base = selector(query)
        most = self._find_page_size
        page_size = most if limit is None else min(most, max(limit, 25))
        fields = _projection(query)
        fixed = equality_fields(base)
        index = choose_index(await self._known_indexes(collection), fixed) if fixed else None
        matches: list[Record] = []
        # CouchDB orders an index's ids by ICU collation, under which two distinct ids can
        # tie; a page starting at a tied id may repeat the other one.
        returned: set[str] = set()
        after: str | None = None
        endkey = await self._endkey()
        while True:
            # With an index the range starts at ``after`` (see find_request): one row more.
            wanted = page_size + 1 if index is not None and after is not None else page_size
            request = find_request(base, after, wanted, endkey, index)
            if fields is not None:
                request["fields"] = fields
            reply = await self._request(
                "POST",
                f"{db_path(collection)}/_find",
                request,
                passthrough=(400, 404) if index is not None else (404,),
            )
            if reply.status == 404:
                return matches
            if reply.status == 400 and index is not None:
                # The index went away (or the server cannot use it): page by _id instead.
                logger.warning(
                    "CouchDB could not use index %r of %r (%s); finding without it",
                    index.name,
                    collection,
                    reason_of(reply.data),
                )
                self._indexes.get(collection, set()).discard(index)
                index = None
                continue
            docs = reply.data.get("docs") if isinstance(reply.data, dict) else None
            if not isinstance(docs, list):
                raise BackendError(
                    f"CouchDB at {self._transport.address.redacted} answered _find "
                    "without a list of docs"
                )
            rows = len(docs)
            docs = [doc for doc in docs if isinstance(doc, dict)]
            if index is not None and after is not None:
                docs = [doc for doc in docs if doc.get("_id") != after][:page_size]
            for doc in docs:
                key = str(doc.get("_id", "_"))
                if key in returned:
                    continue
                record = self._record(collection, key, doc, None, fields is not None)
                if record is not None and query.matches(record.body):
                    matches.append(record)
                    returned.add(key)
                    if limit is not None and len(matches) >= limit:
                        return matches
            if rows < wanted or not docs:
                return matches
            after = str(docs[-1]["_id"])

    async def _known_indexes(self, collection: str) -> set[Index]:
        """The indexes ``find`` may use on ``collection``: listed once, then cached."""
        known = self._indexes.get(collection)
        if known is None:
            reply = await self._transport.request(
                "GET", f"{db_path(collection)}/_index", passthrough=(404,)
            )
            listing = reply.data.get("indexes") if isinstance(reply.data, dict) else None
            entries = listing if reply.status != 404 and isinstance(listing, list) else []
            found = (Index.from_listing(entry) for entry in entries if isinstance(entry, dict))
            known = self._indexes[collection] = {index for index in found if index is not None}
        return known

    async def ensure_index(self, collection: str, fields: Sequence[str]) -> None:
        # Mango reads '.' in a field name as nesting: such fields are filtered on the
        # client anyway (see _mango), so an index on them would serve nothing.
        plain = [name for name in fields if PLAIN_FIELD.fullmatch(name)]
        if not plain:
            return
        index = Index.for_fields(plain)
        await self._write(collection, "POST", f"{db_path(collection)}/_index", index.definition())
        known = self._indexes.get(collection)
        if known is not None:  # else the first find lists it with the others
            known.add(index)


def _projection(query: Query) -> list[str] | None:
    """Mango ``fields`` for a projected ``find``: what the caller wants plus what the
    client-side filter and the number decoding need; ``None`` fetches whole documents."""
    if query.fields is None:
        return None
    wanted = [*query.fields, *(condition.field for condition in query.conditions)]
    if not all(PLAIN_FIELD.fullmatch(name) for name in wanted):
        return None
    return list(dict.fromkeys(["_id", "_rev", MARKER, *wanted]))
