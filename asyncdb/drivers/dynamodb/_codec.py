"""Documents to DynamoDB attribute values and back, without ``Decimal`` on either side.

Encoding (documented in docs/providers/dynamodb.md):

- ``str`` -> ``S``, ``bool`` -> ``BOOL``, ``None`` -> ``NULL``, ``dict`` -> ``M``,
  ``list`` -> ``L``;
- ``int`` -> ``N`` (decimal digits: 64-bit integers cross exactly);
- a ``float`` with a fractional part -> ``N`` with its shortest round-trip ``repr``;
- a ``float`` with an integral value (``1.0``, ``-0.0``, ``1e16``, ``9.99e125``) -> a number
  *set* with that one number (``NS``). DynamoDB normalises ``N`` values ("1.0" is stored as
  "1"), so a plain ``N`` could not tell ``1.0`` from ``1``; asyncdb never writes sets
  otherwise, so a one-element ``NS`` is an unambiguous tag that costs no extra attribute.

Decoding reverses it: an ``N`` with an integral value is an ``int`` (every integral float
was written as ``NS``), any other ``N`` a ``float``, a one-element ``NS`` a ``float``.
The encoders dispatch on the exact type: the face has already converted everything else
to these seven types.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, Final

from asyncdb.errors import BackendError

__all__ = [
    "ID_ATTRIBUTE",
    "REV_ATTRIBUTE",
    "decode_body",
    "decode_number",
    "decode_value",
    "encode_body",
    "encode_value",
]

AttributeValue = dict[str, Any]

ID_ATTRIBUTE: Final = "_id"
REV_ATTRIBUTE: Final = "_rev"


def _encode_str(value: str) -> AttributeValue:
    return {"S": value}


def _encode_bool(value: bool) -> AttributeValue:
    return {"BOOL": value}


def _encode_int(value: int) -> AttributeValue:
    return {"N": str(value)}


def _encode_float(value: float) -> AttributeValue:
    if value.is_integer():
        return {"NS": [repr(value)]}
    return {"N": repr(value)}


def _encode_none(value: None) -> AttributeValue:
    return {"NULL": True}


def _encode_dict(value: dict[str, Any]) -> AttributeValue:
    return {"M": {key: _ENCODERS[type(item)](item) for key, item in value.items()}}


def _encode_list(value: list[Any]) -> AttributeValue:
    return {"L": [_ENCODERS[type(item)](item) for item in value]}


_ENCODERS: Final[dict[type, Callable[[Any], AttributeValue]]] = {
    str: _encode_str,
    int: _encode_int,
    float: _encode_float,
    bool: _encode_bool,
    dict: _encode_dict,
    list: _encode_list,
    type(None): _encode_none,
}


def encode_value(value: Any) -> AttributeValue:
    """One JSON value (as the face prepared it) as a DynamoDB attribute value."""
    try:
        return _ENCODERS[type(value)](value)
    except KeyError as exc:  # the face converts everything else; this is a bug upstream
        raise TypeError(f"cannot encode {type(value).__name__} for DynamoDB") from exc


def encode_body(body: Mapping[str, Any]) -> dict[str, AttributeValue]:
    """The top-level attributes of a body (``_id`` and ``_rev`` are added by the caller)."""
    encoders = _ENCODERS
    return {key: encoders[type(value)](value) for key, value in body.items()}


def decode_number(text: str) -> int | float:
    """An ``N`` value: integral values are ints (integral floats travel as ``NS``)."""
    try:
        return int(text)
    except ValueError:
        pass
    number = float(text)
    if number.is_integer():
        # An integer the server chose to write in another notation ("1E+2"): exact via Decimal.
        return int(Decimal(text))
    return number


def _decode_m(raw: dict[str, AttributeValue]) -> dict[str, Any]:
    return {key: decode_value(item) for key, item in raw.items()}


def _decode_l(raw: list[AttributeValue]) -> list[Any]:
    return [decode_value(item) for item in raw]


def _decode_ns(raw: list[str]) -> float:
    if len(raw) != 1:
        raise BackendError("DynamoDB returned a number set that asyncdb did not write")
    return float(raw[0])


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
}


def decode_value(value: AttributeValue) -> Any:
    """A DynamoDB attribute value as plain JSON (``BackendError`` for foreign types)."""
    for tag, raw in value.items():
        decoder = _DECODERS.get(tag)
        if decoder is None:
            raise BackendError(f"DynamoDB attribute of type {tag} is not a JSON value")
        return decoder(raw)
    raise BackendError("DynamoDB returned an empty attribute value")


def decode_body(item: Mapping[str, AttributeValue]) -> dict[str, Any]:
    """The body of an item: every attribute except ``_id`` and ``_rev``, decoded."""
    return {
        key: decode_value(value)
        for key, value in item.items()
        if key != ID_ATTRIBUTE and key != REV_ATTRIBUTE
    }
