"""``Query`` to a Mango selector that the server can evaluate.

The selector only has to select a superset of the matches: the driver filters every
returned body again with ``Query.matches``, the reference semantics. So a condition is
sent to the server only when Mango reads it unambiguously; the others are checked on
the client alone:
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
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from asyncdb._query import Query, Scalar
from asyncdb.drivers.couchdb._codec import SAFE_INTEGER

__all__ = ["PLAIN_FIELD", "Index", "choose_index", "equality_fields", "find_request", "selector"]

PLAIN_FIELD: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")


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
