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
"""

from __future__ import annotations

import re
from typing import Any, Final

from asyncdb.drivers.couchdb._codec import SAFE_INTEGER
from asyncdb.query import Query, Scalar

__all__ = ["PLAIN_FIELD", "find_request", "selector"]

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


def find_request(
    base: dict[str, Any], after: str | None, limit: int, endkey: str | None = None
) -> dict[str, Any]:
    """One page of a key-ordered ``_find``: ids greater than ``after``, in id order.

    Paging by ``_id`` works on CouchDB and on servers without bookmarks (pouchdb-server);
    sorting by ``_id`` keeps it correct whichever index the server chooses. ``endkey``
    bounds the ids from above where the server needs it (pouchdb-server, see the driver).
    """
    page_selector = dict(base)
    ids: dict[str, str] = {"$gt": after if after is not None else ""}
    if endkey is not None:
        ids["$lte"] = endkey
    page_selector["_id"] = ids
    return {"selector": page_selector, "limit": limit, "sort": [{"_id": "asc"}]}
