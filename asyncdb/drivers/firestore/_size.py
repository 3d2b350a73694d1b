"""Firestore's documented storage size of a document, as the driver stores it.

Firestore's "Storage size calculations": a string (document id, collection id, field
name, string value) is its UTF-8 length + 1; integers, doubles and timestamps 8 bytes;
booleans and null 1; bytes their length; a geo point 16; a reference its document name's
size; an array the sum of its values; a map the sum of its field names' and values'
sizes. A document is its name's size (collection id + document id + 16) + its fields +
32 bytes. Its limit is 1 MiB (1,048,576 bytes).

The measure runs on the encoded protobuf, so escaped ids and keys, tagged JSON bytes and
the ``_asyncdb_id`` of a digest key are counted as Firestore will count them.
"""

from __future__ import annotations

from typing import Any, Final

__all__ = [
    "MAX_COLLECTION_ID_BYTES",
    "NATIVE_DOCUMENT_BYTES",
    "document_name_size",
    "document_size",
    "fields_size",
    "value_size",
]

NATIVE_DOCUMENT_BYTES: Final = 1_048_576
#: The longest collection id asyncdb uses: a 64-character prefix + a 64-character name.
MAX_COLLECTION_ID_BYTES: Final = 128
_NAME_EXTRA: Final = 16
_DOCUMENT_EXTRA: Final = 32
_FIXED: Final = {
    "null_value": 1,
    "boolean_value": 1,
    "integer_value": 8,
    "double_value": 8,
    "timestamp_value": 8,
    "geo_point_value": 16,
}


def _string(text: str) -> int:
    return len(text.encode("utf-8")) + 1


def document_name_size(collection_id_bytes: int, key: str) -> int:
    """The size of a top-level document's name (collection id + document id + 16)."""
    return collection_id_bytes + 1 + _string(key) + _NAME_EXTRA


def fields_size(fields: Any) -> int:
    """The sum of the field names' and values' sizes of a protobuf ``map<string, Value>``."""
    return sum(_string(name) + value_size(value) for name, value in fields.items())


def value_size(value: Any) -> int:
    kind = value.WhichOneof("value_type")
    fixed = _FIXED.get(kind)
    if fixed is not None:
        return fixed
    if kind == "string_value":
        return _string(value.string_value)
    if kind == "bytes_value":
        return len(value.bytes_value)
    if kind == "map_value":
        return fields_size(value.map_value.fields)
    if kind == "array_value":
        return sum(value_size(item) for item in value.array_value.values)
    if kind == "reference_value":
        # projects/<p>/databases/<d>/documents/<path>: its collection and document ids.
        path: str = value.reference_value.partition("/documents/")[2]
        return sum(_string(part) for part in path.split("/")) + _NAME_EXTRA
    return 0


def document_size(key: str, fields: Any, collection_id_bytes: int) -> int:
    """Firestore's storage size of a document stored under ``key`` with ``fields``."""
    return document_name_size(collection_id_bytes, key) + fields_size(fields) + _DOCUMENT_EXTRA
