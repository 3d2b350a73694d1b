"""JSON documents to Firestore ``Value`` protobufs and back, and revisions to strings.

Every contract-valid value maps onto Firestore's native types one to one (``int`` →
``integer_value``, ``float`` → ``double_value``, so ``1.0`` stays a float) except what
Firestore cannot hold, which is stored as a ``bytes_value`` holding a tag and the value's
compact JSON text (a JSON document never holds bytes, so tagged bytes can only be ours):

* an array directly inside an array (Firestore refuses it): ``NESTED_ARRAY_PREFIX``;
* a map or array deeper than Firestore's 20 levels (the contract allows 32), and a map
  with a key that does not fit: Firestore limits a field name, and also a nested field's
  whole path (its names joined by ``.``), to 1,500 UTF-8 bytes: ``JSON_PREFIX``.

Field names: Firestore reserves ``__.*__`` and refuses the empty name, so such a key, and
every key that begins with ``KEY_ESCAPE`` (``~~``), is stored with ``~~`` in front; reading
strips one ``~~``. A top-level key whose escaped name exceeds 1,500 bytes cannot be a
field: such entries travel as one JSON object in the top-level field ``_asyncdb_fields``.
Top-level fields ``_id`` and ``_rev`` that another program stored (the original service
wrote ``"_rev": null``) are not part of the body: asyncdb's own id and revision win.

asyncdb's own top-level fields begin with ``_asyncdb_`` (a caller's top-level key never
begins with ``_``: the contract reserves that for ``_id`` and ``_rev``, so none can clash):
``_asyncdb_id`` (``_ids``), ``_asyncdb_fields`` (above), the index keys
``_asyncdb_ix_<digest>`` (``KEY_FIELD_PREFIX``, see ``_indexes``) and the revision a
document kept when an index key was added to it (``KEPT_REV_FIELD``,
``KEPT_BODY_FIELD``). None of them is ever part of a body read back.

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
import re
import time
from collections.abc import Callable, Mapping
from typing import Any, Final

from google.protobuf.timestamp_pb2 import Timestamp

from asyncdb.drivers.firestore._ids import MAX_KEY_BYTES, ORIGINAL_ID_FIELD

__all__ = [
    "JSON_PREFIX",
    "KEPT_BODY_FIELD",
    "KEPT_REV_FIELD",
    "KEY_ESCAPE",
    "KEY_FIELD_PREFIX",
    "MAX_NATIVE_DEPTH",
    "NESTED_ARRAY_PREFIX",
    "OVERFLOW_FIELD",
    "decode_document",
    "decode_fields",
    "decode_value",
    "encode_document",
    "encode_value",
    "field_name",
    "format_revision",
    "parse_revision",
]

#: What an encoded array-inside-an-array starts with; the rest is the array as JSON text.
NESTED_ARRAY_PREFIX: Final = b"asyncdb:json-array:"
#: What any other value Firestore cannot hold starts with; the rest is its JSON text.
JSON_PREFIX: Final = b"asyncdb:json:"
#: Firestore's documented maximum depth of maps and arrays (the top-level value is 1).
MAX_NATIVE_DEPTH: Final = 20
KEY_ESCAPE: Final = "~~"
#: The top-level field holding entries whose keys cannot be field names, as tagged JSON.
OVERFLOW_FIELD: Final = "_asyncdb_fields"
#: What the name of each index key field begins with (the layout's digest follows).
KEY_FIELD_PREFIX: Final = "_asyncdb_ix_"
#: The revision a document had before asyncdb added an index key to it, and a digest of
#: the body it had then: while the body is unchanged, that revision is still its own.
KEPT_REV_FIELD: Final = "_asyncdb_rev"
KEPT_BODY_FIELD: Final = "_asyncdb_rev_body"
#: Top-level fields that are never part of the body asyncdb returns.
_NOT_BODY: Final = frozenset(
    {"_id", "_rev", ORIGINAL_ID_FIELD, OVERFLOW_FIELD, KEPT_REV_FIELD, KEPT_BODY_FIELD}
)

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode
_NULL_VALUE: Final = 0  # google.protobuf.NullValue.NULL_VALUE
_EPOCH: Final = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)
_DOCUMENTS_MARKER: Final = "/documents/"
_RESERVED_NAME: Final = re.compile(r"__.*__", re.DOTALL)


# -- field names ------------------------------------------------------------------------------
def field_name(key: str) -> str | None:
    """The Firestore field name that stores ``key``, or ``None`` if none can (too long)."""
    if key and key[:2] != KEY_ESCAPE and not (key[:2] == "__" and _RESERVED_NAME.fullmatch(key)):
        name = key
    else:
        name = KEY_ESCAPE + key
    if len(name) * 4 <= MAX_KEY_BYTES or len(name.encode("utf-8")) <= MAX_KEY_BYTES:
        return name
    return None


def _key_of(name: str) -> str:
    return name[2:] if name[:2] == KEY_ESCAPE else name


# -- encoding ---------------------------------------------------------------------------------
def _utf8_length(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8"))


def encode_document(body: Mapping[str, Any], fields: Any) -> None:
    """Fill a document's protobuf ``fields`` from ``body`` (keys escaped as needed)."""
    overflow: dict[str, Any] = {}
    for key, value in body.items():
        name = field_name(key)
        if name is None:
            overflow[key] = value
            continue
        encode_value(value, fields[name], in_array=False, path=_utf8_length(name))
    if overflow:
        fields[OVERFLOW_FIELD].bytes_value = _tagged(JSON_PREFIX, overflow)


def _encode_map(value: Mapping[str, Any], out: Any, depth: int, path: int) -> bool:
    """Write ``value`` as a native map into ``out``; ``False`` (``out`` left unset) if a
    key does not fit: its field path would pass 1,500 bytes, once ``.``-joined to
    ``path`` (the map's own path length)."""
    target = out.map_value
    target.SetInParent()  # an empty map is still a map, not an unset value
    fields = target.fields
    for key, item in value.items():
        start = key[:2]
        # Inline for speed: the common key is stored as itself (see field_name).
        if start == KEY_ESCAPE or not key or (start == "__" and _RESERVED_NAME.fullmatch(key)):
            key = KEY_ESCAPE + key
        child = path + 1 + (len(key) if key.isascii() else len(key.encode("utf-8")))
        if child > MAX_KEY_BYTES:
            out.ClearField("map_value")
            return False
        encode_value(item, fields[key], in_array=False, depth=depth + 1, path=child)
    return True


def _tagged(prefix: bytes, value: Any) -> bytes:
    return prefix + _dumps(value).encode("utf-8")


def encode_value(value: Any, out: Any, *, in_array: bool, depth: int = 1, path: int = 0) -> None:
    """Write the JSON ``value`` into the protobuf ``Value`` message ``out``. ``depth`` is
    the nesting level a map or array here would have (a top-level field's value is 1),
    ``path`` the length of this value's field path (array elements share their array's)."""
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
        if depth > MAX_NATIVE_DEPTH or not _encode_map(value, out, depth, path):
            out.bytes_value = _tagged(JSON_PREFIX, value)
    elif kind is list or kind is tuple:
        if in_array:
            # Firestore refuses arrays in arrays: store this one as tagged JSON bytes.
            out.bytes_value = _tagged(NESTED_ARRAY_PREFIX, value)
            return
        if depth > MAX_NATIVE_DEPTH:
            out.bytes_value = _tagged(JSON_PREFIX, value)
            return
        array = out.array_value
        array.SetInParent()
        values = array.values
        for item in value:
            encode_value(item, values.add(), in_array=True, depth=depth + 1, path=path)
    else:  # the face only passes plain JSON; anything else is a bug worth a loud error
        raise TypeError(f"cannot store a {kind.__name__} in Firestore")


# -- decoding ---------------------------------------------------------------------------------
def decode_document(fields: Any) -> dict[str, Any]:
    """A stored document's fields as the body asyncdb returns (see the module doc)."""
    body: dict[str, Any] = {}
    overflow: Any = None
    for name, value in fields.items():
        if name in _NOT_BODY or name.startswith(KEY_FIELD_PREFIX):
            if name == OVERFLOW_FIELD:
                overflow = value
            continue
        body[_key_of(name)] = decode_value(value)
    if overflow is not None:
        extra = decode_value(overflow)
        if isinstance(extra, dict) and overflow.WhichOneof("value_type") == "bytes_value":
            body.update(extra)
        else:  # not ours: another program's field of that name is data
            body[OVERFLOW_FIELD] = extra
    return body


def decode_fields(fields: Any) -> dict[str, Any]:
    """A map's protobuf fields as a fresh JSON object (keys unescaped)."""
    return {
        (key if key[:2] != KEY_ESCAPE else key[2:]): decode_value(value)
        for key, value in fields.items()
    }


def decode_value(value: Any) -> Any:
    """One protobuf ``Value`` as plain JSON (never a library class)."""
    kind = value.WhichOneof("value_type")
    decoder = _DECODERS.get(kind) if kind is not None else None
    if decoder is None:
        raise TypeError(f"Firestore value of unsupported type {kind!r}")
    return decoder(value)


def _decode_bytes(value: Any) -> Any:
    raw: bytes = value.bytes_value
    for prefix in (JSON_PREFIX, NESTED_ARRAY_PREFIX):
        if raw.startswith(prefix):
            try:
                return json.loads(raw[len(prefix) :].decode("utf-8"))
            except ValueError:  # not ours after all: foreign bytes read as base64 below
                break
    return base64.b64encode(raw).decode("ascii")


def _decode_map(value: Any) -> Any:
    fields = value.map_value.fields
    kind = fields.get("__type__")
    if kind is not None and kind.string_value == "__vector__" and "value" in fields:
        # A Firestore vector (written by another tool) is a list of floats in JSON.
        return [decode_value(item) for item in fields["value"].array_value.values]
    return {
        (key if key[:2] != KEY_ESCAPE else key[2:]): decode_value(item)
        for key, item in fields.items()
    }


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
    "array_value": lambda value: [decode_value(item) for item in value.array_value.values],
    "timestamp_value": _decode_timestamp,
    "reference_value": _decode_reference,
    "geo_point_value": lambda value: {
        "latitude": value.geo_point_value.latitude,
        "longitude": value.geo_point_value.longitude,
    },
    "bytes_value": _decode_bytes,
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
