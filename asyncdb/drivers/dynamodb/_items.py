"""Whole items: a document (id, body, revision) as the attributes DynamoDB stores, and
back as a ``Record``; and an item's size by DynamoDB's own measure."""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from typing import Any, Final

from asyncdb.drivers.base import Body, Record
from asyncdb.drivers.dynamodb._codec import (
    FLOATS_ATTRIBUTE,
    ID_ATTRIBUTE,
    ORIGINAL_ID_ATTRIBUTE,
    REV_ATTRIBUTE,
    AttributeValue,
    IntegralFloat,
    encode_fields,
    value_size,
)
from asyncdb.drivers.dynamodb._ids import caller_id, storage_key
from asyncdb.drivers.dynamodb._marker import (
    decode_item,
    document_attributes,
    float_marker,
)
from asyncdb.drivers.dynamodb._registry import Index, index_attributes

__all__ = [
    "ITEM_LIMIT",
    "UNREVISED",
    "build_item",
    "item_size",
    "key",
    "new_rev",
    "record",
    "rev_condition",
    "stored_rev",
]

#: DynamoDB's item size limit: 400 KB, attribute names included.
ITEM_LIMIT: Final = 400 * 1024
#: A document written by another program has no string ``_rev``; it reads as this one.
UNREVISED: Final = "0"
_compact = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode
#: A revision: 12 random bytes, URL-safe base64 (16 characters).
_REV_BYTES: Final = 12


def new_rev() -> str:
    return secrets.token_urlsafe(_REV_BYTES)


def key(doc_id: str) -> dict[str, dict[str, str]]:
    """The primary key of ``doc_id``'s item."""
    return {ID_ATTRIBUTE: {"S": storage_key(doc_id)}}


def item_size(item: Mapping[str, AttributeValue]) -> int:
    """The size of an item by DynamoDB's documented measure: names plus values."""
    return sum(len(name.encode("utf-8")) + value_size(value) for name, value in item.items())


def _legacy_floats(value: AttributeValue) -> AttributeValue:
    """``value`` with every integral float as a one-element number set (the encoding
    before the marker, still read): the fallback when the marker would not fit."""
    if type(value) is IntegralFloat:
        return {"NS": [value["N"]]}
    inner = value.get("M")
    if inner is not None:
        return {"M": {k: _legacy_floats(v) for k, v in inner.items()}}
    inner = value.get("L")
    if inner is not None:
        return {"L": [_legacy_floats(v) for v in inner]}
    return value


def build_item(
    doc_id: str, body: Body, rev: str, indexes: tuple[Index, ...] = ()
) -> dict[str, AttributeValue]:
    """The item that stores ``body`` as ``doc_id`` with revision ``rev``, with the derived
    key attributes of ``indexes`` (every index registered for its table)."""
    item, integral_floats = encode_fields(body)
    if integral_floats:
        marker = {"S": float_marker(document_attributes(item))}
        # One bit per number keeps the marker small, but a document near the limit could
        # still be pushed over it: then the floats go back to the old in-place tags.
        # DynamoDB's measure of a value is at most four times its compact JSON, so most
        # documents are clear of the limit without measuring them exactly.
        marker_size = len(FLOATS_ATTRIBUTE) + value_size(marker)
        key_room = 200 + 2 * len(doc_id.encode("utf-8"))
        bound = 4 * len(_compact(body).encode("utf-8"))
        if bound + key_room + marker_size <= ITEM_LIMIT or (
            item_size(item) + key_room + marker_size <= ITEM_LIMIT
        ):
            item[FLOATS_ATTRIBUTE] = marker
        else:
            item = {name: _legacy_floats(value) for name, value in item.items()}
    stored_key = storage_key(doc_id)
    item[ID_ATTRIBUTE] = {"S": stored_key}
    if stored_key != doc_id:
        item[ORIGINAL_ID_ATTRIBUTE] = {"S": doc_id}
    item[REV_ATTRIBUTE] = {"S": rev}
    if indexes:
        item.update(index_attributes(indexes, doc_id, body))
    return item


def stored_rev(item: Mapping[str, Any]) -> str:
    """The revision of an item; ``"0"`` when its ``_rev`` is missing, NULL or no string."""
    rev = item.get(REV_ATTRIBUTE)
    value = rev.get("S") if isinstance(rev, dict) else None
    return value if isinstance(value, str) and value else UNREVISED


def record(item: Mapping[str, Any], doc_id: str | None = None) -> Record | None:
    """An item as a ``Record``; ``None`` for an item no caller's id reaches (or, with
    ``doc_id``, one that is not that id's: a digest key whose stored id differs)."""
    found = caller_id(item)
    if found is None or (doc_id is not None and found != doc_id):
        return None
    return Record(found, stored_rev(item), decode_item(item))


def rev_condition(if_rev: str) -> dict[str, Any]:
    """The condition of a write based on revision ``if_rev``."""
    if if_rev == UNREVISED:
        # A document another program wrote reads as revision "0": its _rev is missing,
        # NULL, any other non-string, or empty. (attribute_not_exists alone would never
        # match an item whose _rev is NULL, and the write would be a conflict forever.)
        return {
            "ConditionExpression": (
                "attribute_exists(#i) AND (attribute_not_exists(#r)"
                " OR NOT attribute_type(#r, :s) OR #r = :e)"
            ),
            "ExpressionAttributeNames": {"#i": ID_ATTRIBUTE, "#r": REV_ATTRIBUTE},
            "ExpressionAttributeValues": {":s": {"S": "S"}, ":e": {"S": ""}},
        }
    return {
        "ConditionExpression": "#r = :rev",
        "ExpressionAttributeNames": {"#r": REV_ATTRIBUTE},
        "ExpressionAttributeValues": {":rev": {"S": if_rev}},
    }
