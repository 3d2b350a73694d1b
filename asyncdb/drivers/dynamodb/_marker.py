"""The float marker: which integral numbers of an item were floats.

DynamoDB has one number type and normalises it (``1.0`` is stored as ``1``), so a float
with an integral value is stored as a plain ``N`` -- readable by every other program -- and
the attribute ``_asyncdb_floats`` records that it was a float. It is an ``S`` holding
compact JSON ``{"v": 1, "h": <fingerprint>, "b": <bitmap>}``:

- the numbers of the item (every ``N`` at any depth, outside JSON binaries) are taken in a
  canonical order: top-level attributes and map entries in sorted name order (the value
  of the top-level empty key under the name ``""``), list elements in order;
- bit ``i`` of the bitmap (little-endian, base64) is set when number ``i`` is a float --
  one bit per number, so the marker stays under a twelfth of the item's size;
- ``h`` is a 128-bit BLAKE2b of the canonical form of all document attributes: names,
  types and values, numbers spelled as DynamoDB normalises them.

On read the marker applies only when ``h`` matches the item as it is now. Another
program that changes any value (and copies the marker, as ``{**item, ...}`` does) leaves
a marker that no longer matches and is ignored: its ``2`` reads as ``2``, never ``2.0``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping
from typing import Any, Final

from asyncdb.drivers.dynamodb._codec import (
    EMPTY_KEY_ATTRIBUTE,
    FLOATS_ATTRIBUTE,
    INDEX_ATTRIBUTE_PREFIX,
    RESERVED_ATTRIBUTES,
    AttributeValue,
    IntegralFloat,
    canonical_number,
    decode_number,
    decode_value,
)

__all__ = ["decode_item", "document_attributes", "float_marker"]

_VERSION: Final = 1
_dumps = json.JSONEncoder(separators=(",", ":")).encode


def document_attributes(item: Mapping[str, AttributeValue]) -> dict[str, AttributeValue]:
    """The attributes that hold document fields, by document key (not the index keys: a
    backfill adds them to an item without touching its fields or its float marker)."""
    fields = {
        name: value
        for name, value in item.items()
        if name not in RESERVED_ATTRIBUTES and not name.startswith(INDEX_ATTRIBUTE_PREFIX)
    }
    empty = item.get(EMPTY_KEY_ATTRIBUTE)
    if empty is not None:
        fields[""] = empty
    return fields


def _canonical(value: AttributeValue, parts: list[str], bits: list[bool] | None) -> None:
    """Append the canonical form of ``value`` to ``parts``; with ``bits``, also one flag
    per number (whether it is an encoded integral float) in the canonical order."""
    for tag, raw in value.items():
        if tag == "S":
            parts.append("s" + _dumps(raw))
        elif tag == "N":
            parts.append("n" + canonical_number(raw))
            if bits is not None:
                bits.append(type(value) is IntegralFloat)
        elif tag == "M":
            parts.append("{")
            for key in sorted(raw):
                parts.append(_dumps(key) + ":")
                _canonical(raw[key], parts, bits)
            parts.append("}")
        elif tag == "L":
            parts.append("[")
            for item in raw:
                _canonical(item, parts, bits)
            parts.append("]")
        elif tag == "BOOL":
            parts.append("t" if raw else "f")
        elif tag == "NULL":
            parts.append("z")
        elif tag == "B":
            parts.append("b" + base64.b64encode(bytes(raw)).decode("ascii"))
        elif tag in ("SS", "NS", "BS"):
            members = [canonical_number(m) if tag == "NS" else repr(m) for m in raw]
            parts.append(f"<{tag}" + ",".join(sorted(members)) + ">")
        else:
            parts.append("?" + tag)
        return
    parts.append("?")


def _fingerprint(fields: Mapping[str, AttributeValue], bits: list[bool] | None = None) -> str:
    parts: list[str] = []
    for name in sorted(fields):
        parts.append(_dumps(name) + "=")
        _canonical(fields[name], parts, bits)
    return hashlib.blake2b("".join(parts).encode("utf-8"), digest_size=16).hexdigest()


def float_marker(fields: Mapping[str, AttributeValue]) -> str:
    """The marker for encoded document attributes (by document key) that hold integral
    floats."""
    bits: list[bool] = []
    digest = _fingerprint(fields, bits)
    bitmap = bytearray((len(bits) + 7) // 8)
    for index, is_float in enumerate(bits):
        if is_float:
            bitmap[index >> 3] |= 1 << (index & 7)
    packed = base64.b64encode(bytes(bitmap).rstrip(b"\0")).decode("ascii")
    return _dumps({"v": _VERSION, "h": digest, "b": packed})


def _parse_marker(value: AttributeValue | None) -> tuple[str, bytes] | None:
    if value is None or not isinstance(value.get("S"), str):
        return None
    try:
        marker = json.loads(value["S"])
        if marker.get("v") != _VERSION:
            return None
        return str(marker["h"]), base64.b64decode(marker["b"], validate=True)
    except (ValueError, TypeError, KeyError, AttributeError, binascii.Error):
        return None  # not a marker asyncdb wrote: the numbers read as they are


class _Marked:
    """Decoding in canonical order, turning the numbers the bitmap names into floats."""

    __slots__ = ("bitmap", "index")

    def __init__(self, bitmap: bytes) -> None:
        self.bitmap = bitmap
        self.index = 0

    def value(self, value: AttributeValue) -> Any:
        for tag, raw in value.items():
            if tag == "N":
                index, self.index = self.index, self.index + 1
                number = decode_number(raw)
                byte = index >> 3
                if byte < len(self.bitmap) and self.bitmap[byte] >> (index & 7) & 1:
                    return float(number)
                return number
            if tag == "M":
                return {key: self.value(raw[key]) for key in sorted(raw)}
            if tag == "L":
                return [self.value(item) for item in raw]
            return decode_value(value)
        return None


def decode_item(item: Mapping[str, AttributeValue]) -> dict[str, Any]:
    """The document body of an item: every document attribute, decoded, floats restored
    where a marker that still matches says so."""
    fields = document_attributes(item)
    marker = _parse_marker(item.get(FLOATS_ATTRIBUTE))
    if marker is not None and _fingerprint(fields) == marker[0]:
        marked = _Marked(marker[1])
        return {name: marked.value(fields[name]) for name in sorted(fields)}
    return {name: decode_value(value) for name, value in fields.items()}
