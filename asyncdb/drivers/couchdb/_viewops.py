"""Reading the views ``ensure_index`` makes (``_views``): the views a database has (listed
once per process, kept up to date by ``ensure_index``), one query's key ranges read page
by page, and the design documents made idempotently."""

from __future__ import annotations

import logging
from typing import Final

from asyncdb._evaluate import arrange_records
from asyncdb._query import Query
from asyncdb._retry import Attempts
from asyncdb.drivers.base import Record
from asyncdb.drivers.couchdb._core import CouchCore, db_path, json_param, rows_of
from asyncdb.drivers.couchdb._views import (
    DDOC_PREFIX,
    VIEW,
    ViewIndex,
    ViewPlan,
    ViewRange,
    same_key,
)
from asyncdb.errors import BackendError

__all__ = ["ViewOps"]

logger = logging.getLogger("asyncdb")

#: How many databases' listings are remembered (then they are listed again).
LISTED_LIMIT: Final = 10_000


class _Misread(Exception):
    """A row's key is not the one asyncdb computes for its document."""

    def __init__(self, doc_id: str) -> None:
        super().__init__(doc_id)
        self.doc_id = doc_id


class ViewOps(CouchCore):
    """The views of each database and reading them."""

    # The views ``ensure_index`` made (``_views``), per database: listed once per process
    # with the first ``find`` on it, and kept up to date by ``ensure_index``. ``can_find``
    # (synchronous) consults only this.
    _views: dict[str, set[ViewIndex]]
    # The databases whose design documents were listed (``_known_views``).
    _views_listed: set[str]

    async def _view_find(
        self, collection: str, plan: ViewPlan, query: Query, limit: int | None
    ) -> list[Record] | None:
        """The query read from its view, in its order; ``None`` if the view is gone."""
        found: list[Record] = []
        for view_range in plan.ranges:
            try:
                records = await self._read_range(collection, plan, view_range, query, limit)
            except _Misread as misread:
                logger.warning(
                    "find on %r: view %r keys document %r otherwise than asyncdb reads it "
                    "(written by another program, or changed meanwhile); this query is "
                    "answered without the view",
                    collection,
                    plan.index.ddoc_id,
                    misread.doc_id,
                )
                return None
            if records is None:
                self._views.get(collection, set()).discard(plan.index)
                return None
            found.extend(records)
            if not plan.merge and limit is not None and len(found) >= limit:
                break
        if plan.merge and (query.ordered or query.after is not None):
            # Each $in value's range is in order; together they are merged.
            return arrange_records(found, query.order_by, after=None, limit=limit)
        return found if limit is None else found[:limit]

    async def _read_range(
        self,
        collection: str,
        plan: ViewPlan,
        view_range: ViewRange,
        query: Query,
        limit: int | None,
    ) -> list[Record] | None:
        """The matching records of one key range, at most ``limit``, paged by key."""
        path = f"{db_path(collection)}/{plan.index.ddoc_id}/_view/{VIEW}"
        most = self._find_page_size
        size = most if limit is None else min(most, max(limit, 25))
        start, skip = view_range.start, view_range.skip
        matches: list[Record] = []
        while True:
            # The range starts at the row a page ended on (``skip``): one row more. POST,
            # because keys of long strings would not fit in a request line.
            wanted = size + (skip is not None)
            request = {
                "startkey": start,
                "endkey": view_range.end,
                "include_docs": True,
                "limit": wanted,
                "descending": plan.descending,
            }
            reply = await self._request("POST", path, request, passthrough=(404,))
            if reply.status == 404:
                return None  # no database (then a scan finds nothing) or no view
            rows = rows_of(reply.data)
            count = len(rows)
            if skip is not None and rows and same_key(rows[0].get("key"), skip):
                rows = rows[1:]
            for row in rows:
                record = self._record(collection, str(row.get("id")), row.get("doc"), None)
                if record is None:
                    continue
                if not same_key(row.get("key"), plan.index.key_of(record.id, record.body)):
                    raise _Misread(record.id)
                if query.matches(record.body):
                    matches.append(record)
                    if limit is not None and len(matches) >= limit:
                        return matches
            if count < wanted or not rows:
                return matches
            last = rows[-1].get("key")
            if not isinstance(last, list):
                raise BackendError(
                    f"CouchDB at {self._transport.address.redacted} answered a view "
                    "without row keys"
                )
            start = skip = last

    async def _known_views(self, collection: str) -> set[ViewIndex]:
        """The views of ``collection``: listed once (design documents named
        ``_design/asyncdb-ix-...``), then cached."""
        known = self._views.setdefault(collection, set())
        listed = self._views_listed
        if collection not in listed:
            query = (
                f"?startkey={json_param(DDOC_PREFIX)}&endkey={json_param(DDOC_PREFIX + '~')}"
                "&include_docs=true"
            )
            reply = await self._transport.request(
                "GET", f"{db_path(collection)}/_all_docs{query}", passthrough=(404,)
            )
            rows = [] if reply.status == 404 else rows_of(reply.data)
            found = (ViewIndex.from_design(row.get("id"), row.get("doc")) for row in rows)
            known.update(index for index in found if index is not None)
            if len(listed) >= LISTED_LIMIT:
                listed.clear()  # bounded: a database forgotten is listed again
            listed.add(collection)
        return known

    async def _ensure_view(self, collection: str, index: ViewIndex) -> None:
        """``index`` in a design document of its own, named after a digest of what it
        holds: making it again, concurrently or not, writes the same document (a 409 then
        means it is there)."""
        path = f"{db_path(collection)}/{index.ddoc_id}"
        design = index.design()
        for _ in range(3):
            # A PUT whose answer was lost may have landed: the 409 of its retry is then
            # its own doing, which the comparison below sees.
            reply = await self._write(
                collection, "PUT", path, design, attempts=Attempts(), passthrough=(409,)
            )
            if reply.status != 409:
                break
            current = await self._transport.request("GET", path, passthrough=(404,))
            if current.status == 404:
                continue  # deleted in between: make it again
            if ViewIndex.from_design(index.ddoc_id, current.data) == index:
                break
            # Someone changed our design document: put back what its name promises.
            rev = current.data.get("_rev") if isinstance(current.data, dict) else None
            design = {**index.design(), "_rev": rev}
        else:
            raise BackendError(
                f"CouchDB at {self._transport.address.redacted}: could not make the design "
                f"document {index.ddoc_id!r} of {collection!r}"
            )
        self._views.setdefault(collection, set()).add(index)
