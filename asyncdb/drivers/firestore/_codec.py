"""JSON documents to Firestore ``Value`` protobufs and back, and revisions to strings.

Every contract-valid document maps onto Firestore's native types one to one (``int`` →
``integer_value``, ``float`` → ``double_value``, so ``1.0`` stays a float) except one shape:
Firestore refuses an array directly inside an array. Such an inner array is stored as a
``bytes_value`` holding ``NESTED_ARRAY_PREFIX`` followed by the array's compact JSON text.

Why bytes and not a marker map: Firestore reserves every field name of the form
``__x__`` (the emulator and production refuse ``__asyncdb_array__``), and every other
non-empty key is a key a user may legitimately store, so no marker key is unambiguous.
A JSON document never holds bytes, so a ``bytes_value`` inside an array with this prefix
can only be ours. The encoding never adds nesting: an inner array becomes a scalar, so the
contract's 16 levels stay within Firestore's 20 for every valid document.

Values written by other tools come back as plain JSON: timestamps as ISO 8601 UTC strings
(the same form the contract gives a ``datetime``), references as the document path
(``collection/id``), GeoPoints as ``{"latitude": ..., "longitude": ...}``, bytes as
standard base64 and vectors as lists of floats. The decoder works on raw protobuf
messages (not the proto-plus wrappers), which is several times faster.
"""

from __future__ import annotations

import base64
import datetime as _dt
import json
import time
from collections.abc import Callable, Mapping
from typing import Any, Final

from google.protobuf.timestamp_pb2 import Timestamp

__all__ = [
    "NESTED_ARRAY_PREFIX",
    "decode_fields",
    "decode_value",
    "encode_fields",
    "encode_value",
    "format_revision",
    "parse_revision",
]

#: What an encoded array-inside-an-array starts with; the rest is the array as JSON text.
NESTED_ARRAY_PREFIX: Final = b"asyncdb:json-array:"

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode
_NULL_VALUE: Final = 0  # google.protobuf.NullValue.NULL_VALUE
_EPOCH: Final = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)
_DOCUMENTS_MARKER: Final = "/documents/"


# -- encoding ---------------------------------------------------------------------------------
def encode_fields(body: Mapping[str, Any], fields: Any) -> None:
    """Fill a protobuf ``map<string, Value>`` (a document's or a map's fields) from ``body``.

    Keys are stored literally: a key with dots, spaces or backticks is one field name,
    never a field path.
    """
    for key, value in body.items():
        encode_value(value, fields[key], in_array=False)


def encode_value(value: Any, out: Any, *, in_array: bool) -> None:
    """Write the JSON ``value`` into the protobuf ``Value`` message ``out``."""
    kind = type(value)
    if kind is str:
        out.string_value = value
    elif kind is int:
        out.integer_value = value
    elif kind is float:
        out.double_value = value
    elif kind is bool:
        out.boolean_value = value
    elif value is None:
        out.null_value = _NULL_VALUE
    elif kind is dict:
        target = out.map_value
        target.SetInParent()  # an empty map is still a map, not an unset value
        encode_fields(value, target.fields)
    elif kind is list or kind is tuple:
        if in_array:
            # Firestore refuses arrays in arrays: store this one as tagged JSON bytes.
            out.bytes_value = NESTED_ARRAY_PREFIX + _dumps(value).encode("utf-8")
            return
        array = out.array_value
        array.SetInParent()
        values = array.values
        for item in value:
            encode_value(item, values.add(), in_array=True)
    else:  # the face only passes plain JSON; anything else is a bug worth a loud error
        raise TypeError(f"cannot store a {kind.__name__} in Firestore")


# -- decoding ---------------------------------------------------------------------------------
def decode_fields(fields: Any) -> dict[str, Any]:
    """A document's (or map's) protobuf fields as a fresh JSON object."""
    return {key: decode_value(value) for key, value in fields.items()}


def decode_value(value: Any) -> Any:
    """One protobuf ``Value`` as plain JSON (never a library class)."""
    kind = value.WhichOneof("value_type")
    decoder = _DECODERS.get(kind) if kind is not None else None
    if decoder is None:
        raise TypeError(f"Firestore value of unsupported type {kind!r}")
    return decoder(value)


def _decode_in_array(value: Any) -> Any:
    if value.WhichOneof("value_type") == "bytes_value":
        raw: bytes = value.bytes_value
        if raw.startswith(NESTED_ARRAY_PREFIX):
            try:
                return json.loads(raw[len(NESTED_ARRAY_PREFIX) :].decode("utf-8"))
            except ValueError:  # not ours after all: foreign bytes read as base64 below
                pass
        return base64.b64encode(raw).decode("ascii")
    return decode_value(value)


def _decode_map(value: Any) -> Any:
    fields = value.map_value.fields
    kind = fields.get("__type__")
    if kind is not None and kind.string_value == "__vector__" and "value" in fields:
        # A Firestore vector (written by another tool) is a list of floats in JSON.
        return [decode_value(item) for item in fields["value"].array_value.values]
    return {key: decode_value(item) for key, item in fields.items()}


def _decode_timestamp(value: Any) -> str:
    stamp = value.timestamp_value
    try:
        moment = _EPOCH + _dt.timedelta(seconds=stamp.seconds, microseconds=stamp.nanos // 1000)
    except OverflowError:  # outside datetime's range: protobuf's own RFC 3339 form
        return str(stamp.ToJsonString())
    # Firestore keeps microseconds, so this is lossless and matches what the contract
    # stores for an aware ``datetime`` (``isoformat()`` in UTC).
    return moment.isoformat()


def _decode_reference(value: Any) -> str:
    path: str = value.reference_value
    _, marker, relative = path.partition(_DOCUMENTS_MARKER)
    return relative if marker else path


_DECODERS: Final[dict[str, Callable[[Any], Any]]] = {
    "null_value": lambda value: None,
    "boolean_value": lambda value: value.boolean_value,
    "integer_value": lambda value: value.integer_value,
    "double_value": lambda value: value.double_value,
    "string_value": lambda value: value.string_value,
    "map_value": _decode_map,
    "array_value": lambda value: [_decode_in_array(item) for item in value.array_value.values],
    "timestamp_value": _decode_timestamp,
    "reference_value": _decode_reference,
    "geo_point_value": lambda value: {
        "latitude": value.geo_point_value.latitude,
        "longitude": value.geo_point_value.longitude,
    },
    "bytes_value": lambda value: base64.b64encode(value.bytes_value).decode("ascii"),
}


# -- revisions --------------------------------------------------------------------------------
def format_revision(update_time: Any) -> str:
    """A document's ``update_time`` as an RFC 3339 UTC string with nanoseconds."""
    seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(update_time.seconds))
    return f"{seconds}.{update_time.nanos:09d}Z"


def parse_revision(rev: str) -> Timestamp | None:
    """The ``update_time`` a revision names, or ``None`` if it names none (forged, foreign)."""
    stamp = Timestamp()
    try:
        stamp.FromJsonString(rev)
    except ValueError:
        return None
    return stamp
