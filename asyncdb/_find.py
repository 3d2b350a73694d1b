"""How the face answers ``find`` and ``find_page``: natively where the driver can, else
from a scan through the reference evaluator (``asyncdb._evaluate``), so every backend
gives the same answer. Also the cursors of ``find_page``.

A query the driver cannot run natively (``Driver.can_find``) is filtered natively if the
driver can run its filter alone, then ordered and paged here; else the whole collection is
scanned. That is logged once per collection and shape, at WARNING, with the
``ensure_index`` call meant to serve it; ``strict=True`` raises ``UnindexedQueryError``
instead.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
from dataclasses import replace
from typing import Any, Final

from asyncdb._documents import Document, validate_document_id
from asyncdb._evaluate import Position, position_of
from asyncdb._query import RANGE_OPERATORS, Query, UnindexedQueryError
from asyncdb._results import Page
from asyncdb.drivers.base import Driver, FirstTimes, Record, ordered_from_filter, scan_matching
from asyncdb.errors import InvalidCursorError, InvalidNameError

__all__ = ["Finder", "decode_find_cursor", "encode_find_cursor"]

logger = logging.getLogger("asyncdb")

_WARNED_LIMIT: Final = 1024
_CURSOR_KIND: Final = "find/1"
#: A position holds its last document's order_by values: long strings make long cursors.
#: The cap bounds what a forged cursor makes us decode.
_MAX_CURSOR_LENGTH: Final = 4 * 1024 * 1024
_RANKS_WITHOUT_VALUE: Final = frozenset({0, 1, 2, 3, 6, 7})
_NUMBER_RANK: Final = 4
_STRING_RANK: Final = 5


class Finder:
    """The face's query runner over one driver."""

    def __init__(self, driver: Driver) -> None:
        self._driver = driver
        self._warned = FirstTimes(_WARNED_LIMIT)

    async def find_documents(
        self, collection: str, query: Query, limit: int | None, *, strict: bool
    ) -> list[Document]:
        """``find``'s answer: matching documents, projected, at most ``limit``."""
        records = await self.find(collection, query, limit, strict=strict)
        if limit is not None:
            records = records[:limit]
        return [
            {"_id": record.id, "_rev": record.rev, **query.project(record.body)}
            for record in records
        ]

    async def find(
        self, collection: str, query: Query, limit: int | None, *, strict: bool
    ) -> list[Record]:
        """Records matching ``query`` in its order, at most ``limit``."""
        driver = self._driver
        if driver.can_find(collection, query):
            return await driver.find(collection, query, limit)
        if strict:
            raise UnindexedQueryError(
                f"the {driver.name} backend cannot run this query natively; without "
                f"strict=True asyncdb answers it from a scan. Meant to serve it: "
                f"{index_call(collection, query)}"
            )

        async def filtered(matching: Query, wanted: int | None) -> list[Record]:
            native_filter = driver.can_find(collection, matching)
            self._warn(collection, query, scanned=not native_filter)
            if native_filter:
                return await driver.find(collection, matching, wanted)
            return await scan_matching(driver, collection, matching, wanted)

        return await ordered_from_filter(query, limit, filtered)

    async def page(
        self, collection: str, query: Query, limit: int, cursor: str | None, *, strict: bool
    ) -> Page:
        """One page of at most ``limit`` documents and the cursor of the next (or ``None``)."""
        after = None if cursor is None else decode_find_cursor(collection, query, cursor)
        paged = replace(query, fields=None, after=after, ordered=True)
        # One record more than asked tells whether another page follows.
        records = await self.find(collection, paged, limit + 1, strict=strict)
        items = [{"_id": r.id, "_rev": r.rev, **r.body} for r in records[:limit]]
        if len(records) <= limit:
            return Page(items, None)
        last = records[limit - 1]
        position = position_of(query.order_by, last.id, last.body)
        return Page(items, encode_find_cursor(collection, query, position))

    def _warn(self, collection: str, query: Query, *, scanned: bool) -> None:
        shape = (
            collection,
            tuple(sorted({(c.segments, c.operator) for c in query.conditions})),
            tuple((o.path, o.descending) for o in query.order_by),
        )
        if not self._warned.first(shape):
            return
        logger.warning(
            "find on %r %s: the %s backend cannot run this query natively. The index "
            "meant to serve it: %s",
            collection,
            "ran as a filtered scan of the collection"
            if scanned
            else "was ordered and paged in asyncdb after the backend's filter",
            self._driver.name,
            index_call(collection, query),
        )


def index_call(collection: str, query: Query) -> str:
    """The ``ensure_index`` call for ``query``'s shape: equality fields, then range fields,
    then the order."""
    equality = [c.field for c in query.conditions if c.operator in ("$eq", "$in")]
    ranged = [c.field for c in query.conditions if c.operator in RANGE_OPERATORS]
    fields = list(dict.fromkeys(equality + ranged)) or [o.field for o in query.order_by][:1]
    order = [o.spelled() for o in query.order_by]
    if not fields:
        return "none (the query names no field; it reads the whole collection)"
    suffix = f", order_by={order!r}" if order else ""
    return f"ensure_index({collection!r}, {fields!r}{suffix})"


def _fingerprint(query: Query) -> str:
    """What a cursor is bound to: the filter and the order, not the page size."""
    shape = [
        sorted(json.dumps([c.segments, c.operator, c.values]) for c in query.conditions),
        [[o.path, o.descending] for o in query.order_by],
    ]
    digest = hashlib.sha256(json.dumps(shape, ensure_ascii=False).encode()).digest()
    return base64.urlsafe_b64encode(digest[:16]).decode().rstrip("=")


def encode_find_cursor(collection: str, query: Query, position: Position) -> str:
    """A cursor that resumes ``query`` on ``collection`` after ``position``."""
    payload = json.dumps(
        {
            "v": _CURSOR_KIND,
            "c": collection,
            "q": _fingerprint(query),
            "p": [list(key) for key in position.keys],
            "k": position.id,
        },
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    )
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def decode_find_cursor(collection: str, query: Query, cursor: object) -> Position:
    """The position a cursor resumes after; ``InvalidCursorError`` (400) unless asyncdb
    issued it for this collection, filter and order."""
    foreign = InvalidCursorError("invalid cursor: not a find_page cursor issued by asyncdb")
    if not isinstance(cursor, str) or not cursor or len(cursor) > _MAX_CURSOR_LENGTH:
        raise foreign
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        raw = base64.urlsafe_b64decode(padded.encode("ascii"))
        payload = json.loads(raw, parse_constant=_refuse_constant)
    except (UnicodeError, binascii.Error, ValueError, RecursionError) as exc:
        raise foreign from exc
    if not isinstance(payload, dict) or payload.get("v") != _CURSOR_KIND:
        raise foreign
    if payload.get("c") != collection:
        raise InvalidCursorError("invalid cursor: it was issued for another collection")
    if payload.get("q") != _fingerprint(query):
        raise InvalidCursorError(
            "invalid cursor: it was issued for another query (where and order_by must not "
            "change between pages)"
        )
    keys = payload.get("p")
    if not isinstance(keys, list) or len(keys) != len(query.order_by):
        raise foreign
    try:
        doc_id = validate_document_id(payload.get("k"))
    except InvalidNameError as exc:
        raise InvalidCursorError("invalid cursor: it does not name a position") from exc
    return Position(tuple(_rank(key, foreign) for key in keys), doc_id)


def _rank(key: object, foreign: InvalidCursorError) -> tuple[Any, ...]:
    if isinstance(key, list) and key and type(key[0]) is int:
        rank = key[0]
        if len(key) == 1 and rank in _RANKS_WITHOUT_VALUE:
            return (rank,)
        if len(key) == 2:
            value = key[1]
            if rank == _NUMBER_RANK and type(value) in (int, float):
                return (rank, value)
            if rank == _STRING_RANK and isinstance(value, str):
                return (rank, value)
    raise foreign
