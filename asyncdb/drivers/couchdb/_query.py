"""``find``, ``can_find`` and ``ensure_index`` (``FindOps``), and the translation of a
``Query`` to a Mango selector that the server can evaluate.

A query one of the database's views serves (``_views``: made by ``ensure_index``, read by
``_viewops``) is read from it, in its order and from its position. Any other query that
``can_find`` accepts is an unordered equality query, sent as a Mango selector:

Pages follow stored keys (``_id``); every result is decoded to the caller's id. The
selector only has to select a superset of the matches: the driver filters every returned
body again with ``Query.matches``, the reference semantics. So a condition is sent to the
server only when Mango reads it unambiguously; the others are checked on the client alone:
- the field name must be plain (Mango reads ``.`` as nesting and a leading ``$`` as an
  operator), which also keeps escaped ``~asyncdb`` keys out;
- every value must be a string, boolean, null or a number that the stored form holds as
  a plain JSON number (integers beyond 2**53 are stored as strings, see ``_codec``);
- an ``$in`` list must not hold null: pouchdb-server's ``$in`` never matches a stored null
  (CouchDB's does), so such a condition is checked on the client only.

Pages are read in ``_id`` order. When a json index on ``[f1, ..., fn, _id]`` exists and the
query fixes every ``fi`` by equality, that index holds the matches in ``_id`` order too, so
the page is asked of it (sorted by its fields, then ``_id``): the server reads only the
matches. Otherwise the page is sorted by ``_id`` alone, which CouchDB serves from
``_all_docs`` while filtering.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from asyncdb._query import FieldPath, Order, Query, Scalar
from asyncdb.drivers.base import FirstTimes, Record, ordered_from_filter, scan_matching
from asyncdb.drivers.couchdb._codec import MARKER, SAFE_INTEGER
from asyncdb.drivers.couchdb._core import db_path
from asyncdb.drivers.couchdb._errors import reason_of
from asyncdb.drivers.couchdb._viewops import ViewOps
from asyncdb.drivers.couchdb._views import ViewIndex, best_plan
from asyncdb.errors import BackendError

__all__ = [
    "PLAIN_FIELD",
    "FindOps",
    "Index",
    "choose_index",
    "equality_fields",
    "find_request",
    "selector",
]

logger = logging.getLogger("asyncdb")

PLAIN_FIELD: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
_UTF16_MAX: Final = "\uffff" * 8


def _pushable(value: Scalar) -> bool:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return abs(value) <= SAFE_INTEGER
    return True


def selector(query: Query) -> dict[str, Any]:
    """The server-side part of ``query`` (may be empty: match every document)."""
    result: dict[str, Any] = {}
    for condition in query.conditions:
        if not PLAIN_FIELD.fullmatch(condition.field):
            continue
        if not all(_pushable(value) for value in condition.values):
            continue
        if len(condition.values) > 1 and None in condition.values:
            continue
        if len(condition.values) == 1:
            result[condition.field] = {"$eq": condition.values[0]}
        else:
            result[condition.field] = {"$in": list(condition.values)}
    return result


@dataclass(frozen=True, slots=True)
class Index:
    """A json index on ``[*fields, "_id"]``, addressed as ``use_index: [ddoc, name]``."""

    fields: tuple[str, ...]
    ddoc: str  # without the "_design/" prefix
    name: str

    @classmethod
    def for_fields(cls, fields: Iterable[str]) -> Index:
        """The index ``ensure_index`` makes: fields in sorted order (only equality uses
        it, for which their order does not matter), named after them."""
        ordered = tuple(sorted(set(fields)))
        digest = hashlib.sha256("\0".join(ordered).encode()).hexdigest()[:16]
        name = f"asyncdb-{digest}"
        return cls(ordered, name, name)

    @classmethod
    def from_listing(cls, entry: Mapping[str, Any]) -> Index | None:
        """The index described by one entry of ``GET /<db>/_index``, if it is a json index
        that ends in ``_id`` with every field ascending; else ``None``."""
        definition = entry.get("def")
        raw_fields = definition.get("fields") if isinstance(definition, dict) else None
        ddoc, name = entry.get("ddoc"), entry.get("name")
        if entry.get("type") != "json" or not isinstance(raw_fields, list):
            return None
        if not isinstance(ddoc, str) or not isinstance(name, str):
            return None
        fields: list[str] = []
        for item in raw_fields:
            if not isinstance(item, dict) or len(item) != 1:
                return None
            ((field, direction),) = item.items()
            plain = field == "_id" or PLAIN_FIELD.fullmatch(field) is not None
            if direction != "asc" or not plain:
                return None
            fields.append(field)
        if len(fields) < 2 or fields[-1] != "_id" or "_id" in fields[:-1]:
            return None
        return cls(tuple(fields[:-1]), ddoc.removeprefix("_design/"), name)

    def definition(self) -> dict[str, Any]:
        """The body of ``POST /<db>/_index`` that creates this index."""
        return {
            "index": {"fields": [*self.fields, "_id"]},
            "ddoc": self.ddoc,
            "name": self.name,
            "type": "json",
        }


def equality_fields(base: Mapping[str, Any]) -> frozenset[str]:
    """The fields that ``base`` (a selector from ``selector``) fixes to one value."""
    return frozenset(
        field
        for field, condition in base.items()
        if isinstance(condition, dict) and "$eq" in condition
    )


def choose_index(indexes: Collection[Index], fixed: frozenset[str]) -> Index | None:
    """The index that narrows the most: the most fields, all of them fixed by the query."""
    usable = [index for index in indexes if index.fields and fixed.issuperset(index.fields)]
    return max(usable, key=lambda index: (len(index.fields), index.fields), default=None)


def find_request(
    base: dict[str, Any],
    after: str | None,
    limit: int,
    endkey: str | None = None,
    index: Index | None = None,
) -> dict[str, Any]:
    """One page of a key-ordered ``_find``: ids after ``after``, in id order.

    Paging by ``_id`` works on CouchDB and on servers without bookmarks (pouchdb-server).
    ``endkey`` bounds the ids from above where the server needs it (pouchdb-server, see the
    driver). Without ``index`` the page is ids greater than ``after``, sorted by ``_id``,
    which is correct whichever index the server chooses. With ``index`` it is sorted by the
    index's fields and then ``_id`` and asked of that index; the range starts *at*
    ``after`` and the caller drops that row, because pouchdb-server applies ``limit`` to
    an index range before it applies an exclusive lower bound.
    """
    page_selector = dict(base)
    ids: dict[str, str] = {}
    if index is not None and after is not None:
        ids["$gte"] = after
    else:
        ids["$gt"] = after if after is not None else ""
    if endkey is not None:
        ids["$lte"] = endkey
    page_selector["_id"] = ids
    if index is None:
        return {"selector": page_selector, "limit": limit, "sort": [{"_id": "asc"}]}
    return {
        "selector": page_selector,
        "limit": limit,
        "sort": [*({field: "asc"} for field in index.fields), {"_id": "asc"}],
        "use_index": [index.ddoc, index.name],
    }


class _Unknown:
    """A setting not learnt from the server yet."""


_UNKNOWN: Final = _Unknown()


class FindOps(ViewOps):
    """Queries, indexes and the scan bounds they share with ``scan``."""

    # The ``endkey`` a scan sends: none on CouchDB (its default covers every id);
    # pouchdb-server's in-memory store stops early without one. Learnt from ``GET /``.
    _scan_endkey: str | _Unknown | None = _UNKNOWN
    # The json indexes ending in ``_id`` of each database, read once per process with
    # the first ``find`` that could use one, and kept up to date by ``ensure_index``.
    _indexes: dict[str, set[Index]]
    # The (database, conditions) of the queries ``find`` warned about (once each).
    _warned_shapes: FirstTimes

    def _forget_indexes(self, collection: str) -> None:
        """After the database is dropped: its indexes are gone with it."""
        self._indexes.pop(collection, None)
        self._views.pop(collection, None)
        self._views_listed.discard(collection)

    def can_find(self, collection: str, query: Query) -> bool:
        """Natively: a query one of the collection's views serves (``_views.best_plan``),
        or an unordered equality query (Mango)."""
        return best_plan(self._views.get(collection, ()), query) is not None or query.simple

    async def find(self, collection: str, query: Query, limit: int | None) -> list[Record]:
        plan = best_plan(await self._known_views(collection), query)
        if plan is not None:
            found = await self._view_find(collection, plan, query, limit)
            if found is not None:
                return found
        if query.simple:
            return await self._mango_find(collection, query, limit)
        # can_find knew a view that has gone since (the database was dropped and made
        # again by another process): the filter alone, then the order here.
        shape = (collection, tuple(sorted({(c.segments, c.operator) for c in query.conditions})))
        if self._warned_shapes.first(shape):
            logger.warning(
                "find on %r: no view of this database serves the query; it is filtered "
                "and sorted in the driver (call ensure_index for this collection)",
                collection,
            )

        async def filtered(matching: Query, wanted: int | None) -> list[Record]:
            plan = best_plan(self._views.get(collection, ()), matching)
            found = (
                None if plan is None else await self._view_find(collection, plan, matching, None)
            )
            if found is not None:
                return found
            if matching.simple:
                return await self._mango_find(collection, matching, wanted)
            return await scan_matching(self, collection, matching, wanted)

        return await ordered_from_filter(query, limit, filtered)

    async def _endkey(self) -> str | None:
        if isinstance(self._scan_endkey, _Unknown):
            reply = await self._transport.request("GET", "/")
            welcome = reply.data if isinstance(reply.data, dict) else {}
            # pouchdb-server orders ids as UTF-16 strings: this sorts after every id.
            self._scan_endkey = None if "couchdb" in welcome else _UTF16_MAX
        return self._scan_endkey

    async def _mango_find(self, collection: str, query: Query, limit: int | None) -> list[Record]:
        """An unordered query by a Mango selector, paged by ``_id`` (through a json index
        on ``[*fields, _id]`` when one exists and the query fixes its fields)."""
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

    async def ensure_index(
        self, collection: str, fields: Sequence[FieldPath], *, order_by: Sequence[Order] = ()
    ) -> None:
        await self._ensure_view(collection, ViewIndex.for_index(fields, order_by))


def _projection(query: Query) -> list[str] | None:
    """Mango ``fields`` for a projected ``find``: what the caller wants plus what the
    client-side filter and the number decoding need; ``None`` fetches whole documents."""
    if query.fields is None:
        return None
    wanted = [*query.fields, *(condition.field for condition in query.conditions)]
    if not all(PLAIN_FIELD.fullmatch(name) for name in wanted):
        return None
    return list(dict.fromkeys(["_id", "_rev", MARKER, *wanted]))
