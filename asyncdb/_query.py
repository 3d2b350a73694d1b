"""The portable query language of ``find``: equality and ``$in`` on top-level fields.

It is deliberately small: every operator here means exactly the same on Mango, Firestore
``where`` and DynamoDB filter expressions. Comparisons are type-strict in the JSON sense:
``1`` equals ``1.0``, but ``True`` never equals ``1`` and ``None`` matches only a stored
``null`` (a missing field matches nothing).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from asyncdb._documents import (
    FLOAT_MAX_MAGNITUDE,
    FLOAT_MIN_MAGNITUDE,
    INT_MAX,
    INT_MIN,
    MAX_KEY_BYTES,
)
from asyncdb.errors import InvalidQueryError

__all__ = ["MAX_IN_VALUES", "Condition", "Query", "json_equal", "parse_query"]

Scalar = str | int | float | bool | None
MAX_IN_VALUES: Final = 30
MAX_CONDITIONS: Final = 10


@dataclass(frozen=True, slots=True)
class Condition:
    """``field`` equals one of ``values`` (one value for ``$eq``, several for ``$in``)."""

    field: str
    values: tuple[Scalar, ...]
    operator: str  # "$eq" or "$in"


@dataclass(frozen=True, slots=True)
class Query:
    """A parsed ``find``: all ``conditions`` must hold; ``fields`` projects (None: all)."""

    conditions: tuple[Condition, ...]
    fields: tuple[str, ...] | None = None

    def matches(self, body: Mapping[str, Any]) -> bool:
        """Whether a stored body satisfies every condition."""
        for condition in self.conditions:
            if condition.field not in body:
                return False
            value = body[condition.field]
            if not any(json_equal(value, wanted) for wanted in condition.values):
                return False
        return True

    def project(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """The body reduced to ``fields`` (fields a document lacks are left out)."""
        if self.fields is None:
            return dict(body)
        return {name: body[name] for name in self.fields if name in body}


def json_equal(stored: object, wanted: Scalar) -> bool:
    """Equality as JSON defines it: numbers compare by value, booleans only to booleans."""
    if wanted is None or isinstance(wanted, bool):
        return stored is wanted
    if isinstance(stored, bool):
        return False
    if isinstance(wanted, str):
        return isinstance(stored, str) and stored == wanted
    return isinstance(stored, int | float) and stored == wanted


def parse_query(where: object, fields: object = None) -> Query:
    """Check a ``find`` filter and projection; raise ``InvalidQueryError`` with the reason."""
    if not isinstance(where, Mapping):
        raise InvalidQueryError(
            f"where must be a dict of field -> value, not {type(where).__name__}"
        )
    if len(where) > MAX_CONDITIONS:
        raise InvalidQueryError(f"at most {MAX_CONDITIONS} conditions are portable")
    conditions: list[Condition] = []
    for name, spec in where.items():
        _check_field(name, "where")
        conditions.append(_condition(name, spec))
    if sum(1 for c in conditions if c.operator == "$in") > 1:
        raise InvalidQueryError("at most one $in condition per query is portable (Firestore)")
    return Query(tuple(conditions), _projection(fields))


def _condition(name: str, spec: object) -> Condition:
    if isinstance(spec, Mapping):
        if len(spec) != 1:
            raise InvalidQueryError(f"condition on {name!r} must have exactly one operator")
        ((operator, operand),) = spec.items()
        if operator == "$eq":
            return Condition(name, (_scalar(name, operand),), "$eq")
        if operator == "$in":
            if not isinstance(operand, list | tuple) or not operand:
                raise InvalidQueryError(f"$in on {name!r} takes a non-empty list")
            if len(operand) > MAX_IN_VALUES:
                raise InvalidQueryError(f"$in on {name!r} takes at most {MAX_IN_VALUES} values")
            return Condition(name, tuple(_scalar(name, v) for v in operand), "$in")
        raise InvalidQueryError(f"unknown operator {operator!r} on {name!r}; use $eq or $in")
    return Condition(name, (_scalar(name, spec),), "$eq")


def _scalar(name: str, value: object) -> Scalar:
    """A query value under the same contract as a stored one: a value no document can hold
    is refused here, not sent to a backend that would fail on it or answer ``[]``."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        if not _is_valid_unicode(value):
            raise InvalidQueryError(f"value for {name!r} is not valid unicode (unpaired surrogate)")
        return str(value)
    if isinstance(value, int):
        if not INT_MIN <= value <= INT_MAX:
            raise InvalidQueryError(f"value for {name!r} is outside the signed 64-bit range")
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidQueryError(f"value for {name!r} is not a JSON number")
        magnitude = abs(value)
        if not magnitude:
            return 0.0  # stored zeros have no sign either
        if not FLOAT_MIN_MAGNITUDE <= magnitude < FLOAT_MAX_MAGNITUDE:
            raise InvalidQueryError(
                f"value for {name!r} is outside the portable range 1e-130 <= |x| < 1e126"
            )
        return float(value)
    raise InvalidQueryError(
        f"value for {name!r} must be a string, number, boolean or None, not {type(value).__name__}"
    )


def _check_field(name: object, where: str) -> str:
    """A top-level field name that every backend can filter and project on natively."""
    if not isinstance(name, str) or not name:
        raise InvalidQueryError(f"{where}: field names must be non-empty strings")
    if not _is_valid_unicode(name):
        raise InvalidQueryError(f"{where}: field name {_shown(name)} is not valid unicode")
    size = len(name.encode("utf-8"))
    if size > MAX_KEY_BYTES:
        raise InvalidQueryError(
            f"{where}: a field name of {size} bytes; the limit is {MAX_KEY_BYTES}"
        )
    # Top-level keys starting with "_" are reserved in documents (so no __x__ field
    # either). A document may hold the empty key, but drivers may store it encoded
    # (Firestore): filtering on it is not portable, so it is refused above, not guessed.
    if name.startswith("_"):
        raise InvalidQueryError(f"{where}: field {_shown(name)} is reserved")
    return name


def _is_valid_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _shown(value: str, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _projection(fields: object) -> tuple[str, ...] | None:
    if fields is None:
        return None
    if isinstance(fields, str) or not isinstance(fields, Sequence):
        raise InvalidQueryError("fields must be a list of field names")
    return tuple(dict.fromkeys(_check_field(name, "fields") for name in fields))
