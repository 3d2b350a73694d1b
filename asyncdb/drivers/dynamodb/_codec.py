"""Documents to DynamoDB attribute values and back, without ``Decimal`` on either side.

Encoding (documented in docs/providers/dynamodb.md):

- ``str`` -> ``S``, ``bool`` -> ``BOOL``, ``None`` -> ``NULL``, ``dict`` -> ``M``,
  ``list`` -> ``L``;
- ``int`` -> ``N`` (decimal digits: 64-bit integers cross exactly);
- ``float`` -> ``N`` with its shortest round-trip ``repr``. DynamoDB normalises numbers
  (``1.0`` is stored as ``1``), so which integral values were floats is recorded out of
  band, in the ``_asyncdb_floats`` marker (``_marker``), which only applies while the item
  still holds exactly the values it was written with;
- what DynamoDB cannot hold as a map or list -- a map with the empty key (attribute names
  need at least one character) and any container nested deeper than ``NATIVE_DEPTH``
  (DynamoDB allows 32 levels) -- is a binary value: ``JSON_PREFIX`` + the compact JSON of
  that subtree. The top-level empty key is the attribute ``_asyncdb_empty``.

Decoding reverses it and reads anything another program may have stored: a ``N`` with an
integral value is an ``int`` unless the marker says float, any other ``N`` a ``float``,
a one-element number set (asyncdb's encoding of integral floats before the marker) a
``float``, other sets lists (``SS``, ``NS`` sorted, ``BS`` as base64 text), a foreign
binary base64 text. Nothing here raises on stored data: one odd item never breaks a read.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable, Mapping
from decimal import Context, Decimal, InvalidOperation
from typing import Any, Final

__all__ = [
    "EMPTY_KEY_ATTRIBUTE",
    "FLOATS_ATTRIBUTE",
    "ID_ATTRIBUTE",
    "INDEX_ATTRIBUTE_PREFIX",
    "JSON_PREFIX",
    "NATIVE_DEPTH",
    "ORIGINAL_ID_ATTRIBUTE",
    "RESERVED_ATTRIBUTES",
    "REV_ATTRIBUTE",
    "IntegralFloat",
    "canonical_number",
    "decode_number",
    "decode_value",
    "encode_body",
    "encode_fields",
    "encode_value",
    "value_size",
]

AttributeValue = dict[str, Any]

ID_ATTRIBUTE: Final = "_id"
REV_ATTRIBUTE: Final = "_rev"
#: The caller's id of an item stored under a digest key (``_ids``).
ORIGINAL_ID_ATTRIBUTE: Final = "_asyncdb_id"
#: Which integral numbers are floats (``_marker``).
FLOATS_ATTRIBUTE: Final = "_asyncdb_floats"
#: The value of the top-level key ``""`` (DynamoDB attribute names are never empty).
EMPTY_KEY_ATTRIBUTE: Final = "_asyncdb_empty"
#: The start of the names of the derived index keys (``_registry``: a partition and a sort
#: key per index, ``_asyncdb_ixp_<name>`` and ``_asyncdb_ixs_<name>``): never document fields.
INDEX_ATTRIBUTE_PREFIX: Final = "_asyncdb_ix"
#: Top-level attributes that are never document fields (document keys never start with
#: ``_`` at the top level, so none of these can collide with one).
RESERVED_ATTRIBUTES: Final = frozenset(
    {ID_ATTRIBUTE, REV_ATTRIBUTE, ORIGINAL_ID_ATTRIBUTE, FLOATS_ATTRIBUTE, EMPTY_KEY_ATTRIBUTE}
)
#: A binary value that starts with these bytes holds the JSON of a subtree.
JSON_PREFIX: Final = b"asyncdb-json:"
#: Containers up to this depth (a top-level field's value is depth 1) are maps and lists;
#: deeper ones are JSON binaries. DynamoDB refuses 32 nested maps around a scalar; 30
#: levels of containers plus a binary leaf stays clear of however it counts.
NATIVE_DEPTH: Final = 30

_compact = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode
_NUMBER_CONTEXT: Final = Context(prec=60)


class IntegralFloat(dict[str, Any]):
    """The ``N`` of a float with an integral value: ``_marker`` records where these are."""

    __slots__ = ()


class _Seen(threading.local):
    """Whether the encoding running in this thread met an integral float (encoding is
    synchronous, so a thread-local flag cannot be touched by another encoding meanwhile);
    it spares every document without one a second walk."""

    integral_float = False


_seen = _Seen()


def _encode_str(value: str, depth: int) -> AttributeValue:
    return {"S": value}


def _encode_bool(value: bool, depth: int) -> AttributeValue:
    return {"BOOL": value}


def _encode_int(value: int, depth: int) -> AttributeValue:
    return {"N": str(value)}


def _encode_float(value: float, depth: int) -> AttributeValue:
    if value.is_integer():
        _seen.integral_float = True
        return IntegralFloat(N=repr(value))
    return {"N": repr(value)}


def _encode_none(value: None, depth: int) -> AttributeValue:
    return {"NULL": True}


def _json_blob(value: Any) -> AttributeValue:
    return {"B": JSON_PREFIX + _compact(value).encode("utf-8")}


def _encode_dict(value: dict[str, Any], depth: int) -> AttributeValue:
    if depth > NATIVE_DEPTH or "" in value:
        return _json_blob(value)
    inner = depth + 1
    return {"M": {key: _ENCODERS[type(item)](item, inner) for key, item in value.items()}}


def _encode_list(value: list[Any], depth: int) -> AttributeValue:
    if depth > NATIVE_DEPTH:
        return _json_blob(value)
    inner = depth + 1
    return {"L": [_ENCODERS[type(item)](item, inner) for item in value]}


_ENCODERS: Final[dict[type, Callable[[Any, int], AttributeValue]]] = {
    str: _encode_str,
    int: _encode_int,
    float: _encode_float,
    bool: _encode_bool,
    dict: _encode_dict,
    list: _encode_list,
    type(None): _encode_none,
}


def encode_value(value: Any, depth: int = 1) -> AttributeValue:
    """One JSON value (as the face prepared it) as a DynamoDB attribute value."""
    try:
        return _ENCODERS[type(value)](value, depth)
    except KeyError as exc:  # the face converts everything else; this is a bug upstream
        raise TypeError(f"cannot encode {type(value).__name__} for DynamoDB") from exc


def encode_body(body: Mapping[str, Any]) -> dict[str, AttributeValue]:
    """The top-level attributes of a body, without the marker, id and revision."""
    return encode_fields(body)[0]


def encode_fields(body: Mapping[str, Any]) -> tuple[dict[str, AttributeValue], bool]:
    """``encode_body``, and whether the body holds a float with an integral value outside
    JSON binaries (then it needs the float marker)."""
    encoders = _ENCODERS
    _seen.integral_float = False
    item = {key: encoders[type(value)](value, 1) for key, value in body.items()}
    if "" in item:
        item[EMPTY_KEY_ATTRIBUTE] = item.pop("")
    return item, _seen.integral_float


def decode_number(text: str) -> int | float:
    """An ``N`` value: integral values are ints (the marker says which are floats)."""
    try:
        return int(text)
    except ValueError:
        pass
    number = float(text)
    if number.is_integer():
        # An integer the server chose to write in another notation ("1E+2"): exact via Decimal.
        return int(Decimal(text))
    return number


def _is_integer_text(text: str) -> bool:
    return text.isdigit() or (text[:1] == "-" and text[1:].isdigit())


def canonical_number(text: str) -> str:
    """One spelling per numeric value ("1", "1.0", "1E+0" -> "1"; "1000.0" -> "1000"), so
    that what asyncdb sent and what DynamoDB normalised it to compare equal."""
    if _is_integer_text(text):
        return str(int(text))
    try:
        number = Decimal(text)
    except InvalidOperation:
        return text
    if number == number.to_integral_value():
        return str(int(number))
    return str(number.normalize(_NUMBER_CONTEXT))


def _decode_m(raw: dict[str, AttributeValue]) -> dict[str, Any]:
    return {key: decode_value(item) for key, item in raw.items()}


def _decode_l(raw: list[AttributeValue]) -> list[Any]:
    return [decode_value(item) for item in raw]


def _decode_ns(raw: list[str]) -> float | list[int | float]:
    if len(raw) == 1:  # how asyncdb stored an integral float before the marker
        return float(raw[0])
    return sorted(decode_number(text) for text in raw)


def _decode_ss(raw: list[str]) -> list[str]:
    return sorted(raw)


def _base64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _decode_b(raw: bytes) -> Any:
    if raw.startswith(JSON_PREFIX):
        try:
            return json.loads(raw[len(JSON_PREFIX) :].decode("utf-8"))
        except ValueError:
            pass  # not asyncdb's after all: fall through to the plain reading
    return _base64(raw)


def _decode_bs(raw: list[bytes]) -> list[str]:
    return sorted(_base64(item) for item in raw)


def _identity(raw: Any) -> Any:
    return raw


def _decode_null(raw: Any) -> None:
    return None


_DECODERS: Final[dict[str, Callable[[Any], Any]]] = {
    "S": _identity,
    "N": decode_number,
    "BOOL": _identity,
    "M": _decode_m,
    "L": _decode_l,
    "NULL": _decode_null,
    "NS": _decode_ns,
    "SS": _decode_ss,
    "B": _decode_b,
    "BS": _decode_bs,
}


def decode_value(value: AttributeValue) -> Any:
    """A DynamoDB attribute value as plain JSON; a type DynamoDB may add later reads as
    ``None`` rather than failing the whole item."""
    for tag, raw in value.items():
        decoder = _DECODERS.get(tag)
        return None if decoder is None else decoder(raw)
    return None


# -- DynamoDB's item size measure ----------------------------------------------------------
def _number_size(text: str) -> int:
    """1 byte per two significant digits, plus 1 (leading and trailing zeros trimmed)."""
    if _is_integer_text(text):
        digits = len(text.lstrip("-").strip("0")) or 1
    else:
        try:
            digits = len(Decimal(text).normalize(_NUMBER_CONTEXT).as_tuple().digits)
        except InvalidOperation:
            digits = len(text)
    return (digits + 1) // 2 + 1


def value_size(value: AttributeValue) -> int:
    """The size of one attribute value by DynamoDB's documented measure."""
    for tag, raw in value.items():
        if tag == "S":
            return len(raw.encode("utf-8"))
        if tag == "N":
            return _number_size(raw)
        if tag == "B":
            return len(raw)
        if tag in ("BOOL", "NULL"):
            return 1
        if tag == "M":
            return 3 + sum(
                len(key.encode("utf-8")) + value_size(item) + 1 for key, item in raw.items()
            )
        if tag == "L":
            return 3 + sum(value_size(item) + 1 for item in raw)
        if tag == "SS":
            return sum(len(item.encode("utf-8")) for item in raw)
        if tag == "NS":
            return sum(_number_size(item) for item in raw)
        if tag == "BS":
            return sum(len(item) for item in raw)
    return 1
