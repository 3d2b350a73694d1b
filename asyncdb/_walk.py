"""The one walk over a document that ``prepare_document`` makes: validate, convert, copy
and measure at once (docs/contract.md has the rules; ``asyncdb._documents`` applies them).

Written for speed, as the contract's cost on every write: a container's keys and string
values are checked a container at a time with C-level builtins, exact types are
dispatched inline, anything unusual goes through ``convert``, and JSON paths are only
built when something is refused.
"""

from __future__ import annotations

import datetime as _dt
import enum
import math
import re
import sys
import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final, TypeGuard

if TYPE_CHECKING:
    from pydantic import BaseModel

__all__ = [
    "FLOAT_MAX_MAGNITUDE",
    "FLOAT_MIN_MAGNITUDE",
    "INT_MAX",
    "INT_MIN",
    "MAX_DEPTH",
    "MAX_FIELDS",
    "MAX_KEY_BYTES",
]

Document = dict[str, Any]

#: Firestore's field-name limit.
MAX_KEY_BYTES: Final = 1500
#: DynamoDB holds 32 levels; the Firestore driver encodes what is deeper than its 20.
MAX_DEPTH: Final = 32
#: Firestore's limit on the number of fields (map entries at any depth) in one document.
MAX_FIELDS: Final = 20_000
INT_MIN: Final = -(2**63)
INT_MAX: Final = 2**63 - 1
#: DynamoDB numbers: magnitude from 1E-130 up to (but not including) 1E+126.
FLOAT_MIN_MAGNITUDE: Final = 1e-130
FLOAT_MAX_MAGNITUDE: Final = 1e126

# Size accounting: an upper bound of both DynamoDB's and Firestore's measure of an item.
_NUMBER_BYTES: Final = 12
_SCALAR_BYTES: Final = 1
_CONTAINER_BYTES: Final = 3

#: Below this many entries a map is cheaper to check key by key than all at once.
_FEW: Final = 4

_PLAIN_KEY: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class _Refusal(Exception):
    """Internal: a bad value; ``path`` is filled in (innermost first) while unwinding, so
    that the hot path never builds path strings."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.path: list[str | int] = []


def _path_of(parts: list[str | int]) -> str:
    """JSON path text of ``parts`` (outermost first): ``$.a.b[2]['odd key']``."""
    text = "$"
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _PLAIN_KEY.fullmatch(part):
            text += f".{part}"
        else:
            text += f"[{part!r}]"
    return text


class _Walker:
    """One pass over a document: validate, convert, copy and measure.

    Written for speed: common scalar types are handled inline by exact type; anything
    unusual goes through ``_convert``. Paths are only built when something is refused.
    """

    __slots__ = ("fields", "size")

    def __init__(self) -> None:
        self.size = 0
        self.fields = 0

    def map(self, value: Mapping[Any, Any], depth: int) -> Document:
        if depth > MAX_DEPTH:
            raise _Refusal(f"nested deeper than {MAX_DEPTH} levels")
        self.fields += len(value)
        if self.fields > MAX_FIELDS:
            raise _Refusal(f"more than {MAX_FIELDS} fields")
        if len(value) < _FEW:
            return self.map_items(value, depth)
        # The keys are checked all at once with C-level builtins: joined, they are all
        # strings, ASCII, and none longer than their total. Anything else (rare) goes to
        # the per-item walk, which also names the key it refuses.
        # Every key an exact str (not a subclass such as a StrEnum member, which the
        # per-item walk turns into a plain str): the copy holds only JSON types.
        if set(map(type, value)) != {str}:
            return self.map_items(value, depth)
        keys = "".join(value)
        if not keys.isascii() or (
            len(keys) > MAX_KEY_BYTES and max(map(len, value)) > MAX_KEY_BYTES
        ):
            return self.map_items(value, depth)
        size = _CONTAINER_BYTES + len(keys) + 2 * len(value)
        # Copied whole in C; only values that convert or nest are replaced in the walk.
        copy = dict(value)
        for key, item in copy.items():
            kind = type(item)
            try:
                if kind is str:
                    if item.isascii():
                        size += len(item) + 1
                    else:
                        self.string(item)
                elif kind is int:
                    if not INT_MIN <= item <= INT_MAX:
                        raise _Refusal("integer outside the signed 64-bit range")
                    size += _NUMBER_BYTES
                elif kind is bool or item is None:
                    size += _SCALAR_BYTES
                else:
                    copy[key] = self.other(item, depth)
            except _Refusal as refusal:
                refusal.path.insert(0, key)
                raise
        self.size += size
        return copy

    def map_items(self, value: Mapping[Any, Any], depth: int) -> Document:
        """The per-item walk of a map (its depth and fields already counted)."""
        size = _CONTAINER_BYTES
        copy: Document = {}
        for key, item in value.items():
            kind = type(item)
            try:
                if type(key) is not str or not key.isascii():
                    size += _check_unusual_key(key)
                    key = str.__str__(key)  # a str subclass's plain text, as JSON keeps it
                elif len(key) > MAX_KEY_BYTES:
                    raise _Refusal(f"key of {len(key)} bytes; the limit is {MAX_KEY_BYTES}")
                else:
                    size += len(key) + 2
                if kind is str:
                    if item.isascii():
                        size += len(item) + 1
                        copy[key] = item
                        continue
                    copy[key] = self.string(item)
                elif kind is int:
                    if not INT_MIN <= item <= INT_MAX:
                        raise _Refusal("integer outside the signed 64-bit range")
                    size += _NUMBER_BYTES
                    copy[key] = item
                elif kind is bool or item is None:
                    size += _SCALAR_BYTES
                    copy[key] = item
                else:
                    copy[key] = self.other(item, depth)
            except _Refusal as refusal:
                refusal.path.insert(0, key if isinstance(key, str) else repr(key))
                raise
        self.size += size
        return copy

    def list_items(self, value: list[Any] | tuple[Any, ...], depth: int) -> list[Any]:
        """The per-item walk of a list (its depth already checked)."""
        size = _CONTAINER_BYTES + len(value)
        copy: list[Any] = []
        append = copy.append
        for index, item in enumerate(value):
            kind = type(item)
            try:
                if kind is str:
                    if item.isascii():
                        size += len(item) + 1
                        append(item)
                        continue
                    append(self.string(item))
                elif kind is int:
                    if not INT_MIN <= item <= INT_MAX:
                        raise _Refusal("integer outside the signed 64-bit range")
                    size += _NUMBER_BYTES
                    append(item)
                elif kind is bool or item is None:
                    size += _SCALAR_BYTES
                    append(item)
                else:
                    append(self.other(item, depth))
            except _Refusal as refusal:
                refusal.path.insert(0, index)
                raise
        self.size += size
        return copy

    def list(self, value: list[Any] | tuple[Any, ...], depth: int) -> list[Any]:
        if depth > MAX_DEPTH:
            raise _Refusal(f"nested deeper than {MAX_DEPTH} levels")
        # Lists of one scalar type (tags, ids, vectors) are checked whole, as in ``map``.
        kinds = set(map(type, value))
        if kinds == {str}:
            text_bytes = _text_bytes(value)
            if text_bytes is not None:
                self.size += _CONTAINER_BYTES + 2 * len(value) + text_bytes
                return list(value)
        elif kinds == {int}:
            if min(value) >= INT_MIN and max(value) <= INT_MAX:
                self.size += _CONTAINER_BYTES + len(value) * (1 + _NUMBER_BYTES)
                return list(value)
        elif kinds == {float} and all(map(math.isfinite, value)):
            magnitudes = list(map(abs, value))
            if min(magnitudes) >= FLOAT_MIN_MAGNITUDE and max(magnitudes) < FLOAT_MAX_MAGNITUDE:
                self.size += _CONTAINER_BYTES + len(value) * (1 + _NUMBER_BYTES)
                return list(value)
        return self.list_items(value, depth)

    def other(self, item: Any, depth: int) -> Any:
        """A value of a container at ``depth`` that is not a str, int, bool or None (the
        loops above handle those inline, as the hot cases): a float, a nested container,
        or something to convert."""
        kind = type(item)
        if kind is float:
            self.size += _NUMBER_BYTES
            return _checked_float(item)
        if kind is dict:
            return self.map(item, depth + 1)
        if kind is list:
            return self.list(item, depth + 1)
        return self.convert(item, depth + 1)

    def string(self, value: str) -> str:
        length = _utf8_length(value)
        if length is None:
            raise _Refusal("string is not valid unicode (unpaired surrogate)")
        self.size += length + 1
        return value

    def convert(self, value: object, depth: int) -> Any:
        """Values with one obvious JSON form; anything else is refused. ``depth`` is the
        depth ``value`` itself would have as a container."""
        if isinstance(value, enum.Enum):
            return self.convert(value.value, depth)
        if isinstance(value, bool):
            self.size += _SCALAR_BYTES
            return bool(value)
        if value is None:
            self.size += _SCALAR_BYTES
            return None
        if isinstance(value, int):
            if not INT_MIN <= value <= INT_MAX:
                raise _Refusal("integer outside the signed 64-bit range")
            self.size += _NUMBER_BYTES
            return int(value)
        if isinstance(value, float):
            self.size += _NUMBER_BYTES
            return _checked_float(float(value))
        if isinstance(value, str):
            return self.string(str(value))
        if isinstance(value, _dt.datetime):
            if value.tzinfo is not None:
                value = value.astimezone(_dt.UTC)
            return self.string(value.isoformat())
        if isinstance(value, _dt.date | _dt.time):
            return self.string(value.isoformat())
        if isinstance(value, uuid.UUID):
            return self.string(str(value))
        if isinstance(value, Decimal):
            return self.decimal(value)
        if _is_model(value):
            return self.convert(value.model_dump(mode="json", by_alias=True), depth)
        if isinstance(value, Mapping):
            return self.map(value, depth)
        if isinstance(value, list | tuple):
            return self.list(value, depth)
        raise _Refusal(f"{type(value).__name__} is not a JSON value")

    def decimal(self, value: Decimal) -> int | float:
        if not value.is_finite():
            raise _Refusal(f"Decimal {value} is not a JSON number")
        self.size += _NUMBER_BYTES
        if not value:
            return 0
        # Check the magnitude first: int() of Decimal("1E+1000000") takes minutes, and a
        # tiny value would silently become 0.0.
        if value.adjusted() > 125 or value.adjusted() < -130:
            raise _Refusal(f"Decimal {value} is outside the portable number range")
        if value == value.to_integral_value():
            number = int(value)
            if not INT_MIN <= number <= INT_MAX:
                raise _Refusal("integer outside the signed 64-bit range")
            return number
        return _checked_float(float(value))


def _is_model(value: object) -> TypeGuard[BaseModel]:
    """Whether ``value`` is a pydantic model, without importing pydantic: if no module has
    imported it, no model can exist, and ``import asyncdb`` stays free of it."""
    model_class = getattr(sys.modules.get("pydantic"), "BaseModel", None)
    return model_class is not None and isinstance(value, model_class)


def _check_unusual_key(key: object) -> int:
    """Checks for keys off the fast path (non-ASCII or odd types); returns the key's
    share of the size measure."""
    if not isinstance(key, str):
        raise _Refusal(f"key {key!r} is not a string")
    length = _utf8_length(key)
    if length is None:
        raise _Refusal(f"key {_shown(key)} is not valid unicode")
    if length > MAX_KEY_BYTES:
        raise _Refusal(f"key of {length} bytes; the limit is {MAX_KEY_BYTES}")
    return length + 2


def _checked_float(value: float) -> float:
    if not math.isfinite(value):
        raise _Refusal(f"{value!r} is not a JSON number")
    magnitude = abs(value)
    if not magnitude:
        return 0.0  # -0.0 too: CouchDB and DynamoDB do not keep the sign of zero
    if not FLOAT_MIN_MAGNITUDE <= magnitude < FLOAT_MAX_MAGNITUDE:
        raise _Refusal(f"{value!r} is outside the portable range 1e-130 <= |x| < 1e126")
    return value


def _text_bytes(texts: list[str] | tuple[str, ...]) -> int | None:
    """The UTF-8 length of ``texts`` together, or ``None`` if one holds an unpaired
    surrogate. Joined first: one C-level pass instead of one call per string."""
    joined = "".join(texts)
    return len(joined) if joined.isascii() else _utf8_length(joined)


def _utf8_length(text: str) -> int | None:
    """UTF-8 length of ``text``, or ``None`` if it holds an unpaired surrogate."""
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError:
        return None


def _shown(value: object, limit: int = 60) -> str:
    """A bounded, printable rendering of a user value for an error message."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
