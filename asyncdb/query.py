"""The portable query language of ``find``: equality and ``$in`` on top-level fields.

It is deliberately small: every operator here means exactly the same on Mango, Firestore
``where`` and DynamoDB filter expressions. Comparisons are type-strict in the JSON sense:
``1`` equals ``1.0``, but ``True`` never equals ``1`` and ``None`` matches only a stored
``null`` (a missing field matches nothing).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

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
    if value is None or isinstance(value, str | bool):
        return value
    if isinstance(value, int | float):
        if value != value or value in (float("inf"), float("-inf")):
            raise InvalidQueryError(f"value for {name!r} is not a JSON number")
        return value
    raise InvalidQueryError(
        f"value for {name!r} must be a string, number, boolean or None, not {type(value).__name__}"
    )


def _check_field(name: object, where: str) -> str:
    if not isinstance(name, str) or not name:
        raise InvalidQueryError(f"{where}: field names must be non-empty strings")
    if name.startswith("_"):
        raise InvalidQueryError(f"{where}: field {name!r} is reserved")
    return name


def _projection(fields: object) -> tuple[str, ...] | None:
    if fields is None:
        return None
    if isinstance(fields, str) or not isinstance(fields, Sequence):
        raise InvalidQueryError("fields must be a list of field names")
    return tuple(dict.fromkeys(_check_field(name, "fields") for name in fields))
