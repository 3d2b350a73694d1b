"""The portable query language of ``find``: parsing and validation.

``where`` maps field paths to a value (equality) or to operators (``$eq $ne $in $gt $gte
$lt $lte $exists``); ``order_by`` lists field paths, ``-`` first for descending. Every
value and path passes the document contract before any I/O. What a parsed query *means*
(which documents match, in which order) is ``asyncdb._evaluate``, the reference every
driver must agree with (docs/contract.md, "Queries" and "Order").

Drivers see a ``Query``: ``conditions`` (ANDed), ``fields`` (a projection of top-level
names), ``order_by`` and ``after`` (the position a page resumes after). A driver runs only
the queries its ``can_find`` accepts; the face answers the others from a scan.
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
    MAX_DEPTH,
    MAX_KEY_BYTES,
)
from asyncdb._evaluate import Position, json_equal, matches
from asyncdb.errors import InvalidQueryError, UnindexedQueryError

__all__ = [
    "EQUALITY_OPERATORS",
    "MAX_IN_VALUES",
    "MAX_ORDER_FIELDS",
    "OPERATORS",
    "RANGE_OPERATORS",
    "Condition",
    "FieldPath",
    "Order",
    "Query",
    "UnindexedQueryError",
    "index_fields",
    "json_equal",
    "parse_order",
    "parse_query",
    "split_dotted",
]

Scalar = str | int | float | bool | None
#: A field's place in a document: the keys from the top level down (``"owner.id"`` parsed).
FieldPath = tuple[str, ...]
MAX_IN_VALUES: Final = 30
MAX_CONDITIONS: Final = 10
MAX_ORDER_FIELDS: Final = 4
EQUALITY_OPERATORS: Final = frozenset({"$eq", "$in"})
RANGE_OPERATORS: Final = frozenset({"$gt", "$gte", "$lt", "$lte"})
OPERATORS: Final = EQUALITY_OPERATORS | RANGE_OPERATORS | {"$ne", "$exists"}


@dataclass(frozen=True, slots=True)
class Condition:
    """One test on a field.

    ``$eq``: one value; ``$in``: several (the field equals one of them); ``$ne``, ``$gt``,
    ``$gte``, ``$lt``, ``$lte``: one value; ``$exists``: ``(True,)`` or ``(False,)``.
    ``field`` is the top-level name when ``path`` is empty; for a nested path it is the
    path as written (``"owner.id"``) and ``path`` holds its segments.
    """

    field: str
    values: tuple[Scalar, ...]
    operator: str
    path: tuple[str, ...] = ()

    @property
    def segments(self) -> tuple[str, ...]:
        """The keys from the document's top level down to the value tested."""
        return self.path or (self.field,)

    @property
    def top_level(self) -> bool:
        return len(self.segments) == 1


@dataclass(frozen=True, slots=True)
class Order:
    """One ``order_by`` entry: a field path, ascending unless ``descending``."""

    field: str
    path: tuple[str, ...]
    descending: bool = False

    def spelled(self) -> str:
        return ("-" if self.descending else "") + self.field


@dataclass(frozen=True, slots=True)
class Query:
    """A parsed ``find``: all ``conditions`` must hold; ``fields`` projects (None: all);
    when ``ordered``, results come in ``order_by`` order (ties by ``_id``; by ``_id`` alone
    when ``order_by`` is empty), starting after ``after``."""

    conditions: tuple[Condition, ...]
    fields: tuple[str, ...] | None = None
    order_by: tuple[Order, ...] = ()
    after: Position | None = None
    ordered: bool = False

    @property
    def simple(self) -> bool:
        """Today's shape: equality or ``$in`` on top-level fields, no order, no position.
        Every driver's ``find`` runs this shape natively (``Driver.can_find``)."""
        return (
            not self.ordered
            and not self.order_by
            and self.after is None
            and all(c.operator in EQUALITY_OPERATORS and c.top_level for c in self.conditions)
        )

    def matches(self, body: Mapping[str, Any]) -> bool:
        """Whether a stored body satisfies every condition (the reference evaluator)."""
        return matches(self.conditions, body)

    def project(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """The body reduced to ``fields`` (fields a document lacks are left out)."""
        if self.fields is None:
            return dict(body)
        return {name: body[name] for name in self.fields if name in body}


def parse_query(where: object, fields: object = None, order_by: object = None) -> Query:
    """Check a ``find`` filter, projection and order; raise ``InvalidQueryError``."""
    if not isinstance(where, Mapping):
        raise InvalidQueryError(
            f"where must be a dict of field -> value, not {type(where).__name__}"
        )
    if len(where) > MAX_CONDITIONS:
        raise InvalidQueryError(f"at most {MAX_CONDITIONS} conditions are portable")
    conditions: list[Condition] = []
    for name, spec in where.items():
        path = parse_path(name, "where")
        conditions.extend(_conditions(name, path, spec))
    if sum(1 for c in conditions if c.operator == "$in") > 1:
        raise InvalidQueryError("at most one $in condition per query is portable (Firestore)")
    order = parse_order(order_by)
    return Query(tuple(conditions), _projection(fields), order, ordered=bool(order))


def index_fields(
    fields: object, order_by: object = None
) -> tuple[tuple[FieldPath, ...], tuple[Order, ...]]:
    """``ensure_index``'s fields as paths (dotted, as in ``where``; at least one, each
    once) and its ``order_by``, parsed."""
    if isinstance(fields, str) or not isinstance(fields, Sequence):
        raise InvalidQueryError("ensure_index takes a list of field paths")
    paths = tuple(dict.fromkeys(parse_path(name, "ensure_index") for name in fields))
    order = parse_order(order_by)
    if not paths:
        raise InvalidQueryError("ensure_index needs at least one field")
    return paths, order


def parse_order(order_by: object) -> tuple[Order, ...]:
    """``["-created", "title"]`` -> ``Order`` entries; ``InvalidQueryError`` if malformed."""
    if order_by is None:
        return ()
    if isinstance(order_by, str) or not isinstance(order_by, Sequence):
        raise InvalidQueryError('order_by must be a list of field paths, e.g. ["-created"]')
    if len(order_by) > MAX_ORDER_FIELDS:
        raise InvalidQueryError(f"order_by takes at most {MAX_ORDER_FIELDS} fields")
    orders: list[Order] = []
    for entry in order_by:
        if not isinstance(entry, str):
            raise InvalidQueryError("order_by entries must be strings")
        descending = entry.startswith("-")
        name = entry[1:] if descending else entry
        path = parse_path(name, "order_by")
        if any(o.path == path for o in orders):
            raise InvalidQueryError(f"order_by names {name!r} twice")
        orders.append(Order(name, path, descending))
    return tuple(orders)


def _conditions(name: str, path: tuple[str, ...], spec: object) -> list[Condition]:
    nested = path if len(path) > 1 else ()
    field = name if nested else path[0]

    def make(operator: str, values: tuple[Scalar, ...]) -> Condition:
        return Condition(field, values, operator, nested)

    if not isinstance(spec, Mapping):
        return [make("$eq", (_scalar(name, spec),))]
    if not spec:
        raise InvalidQueryError(f"condition on {name!r} has no operator")
    for operator in spec:
        if operator not in OPERATORS:
            raise InvalidQueryError(
                f"unknown operator {operator!r} on {name!r}; "
                f"use one of {', '.join(sorted(OPERATORS))}"
            )
    if len(spec) > 1 and (EQUALITY_OPERATORS & spec.keys() or spec.get("$exists") is False):
        raise InvalidQueryError(
            f"condition on {name!r}: $eq, $in and $exists: false stand alone; "
            "other operators combine (AND)"
        )
    if {"$gt", "$gte"} <= spec.keys() or {"$lt", "$lte"} <= spec.keys():
        raise InvalidQueryError(f"condition on {name!r} has two bounds on the same side")
    found: list[Condition] = []
    bound_kinds: set[str] = set()
    for operator, operand in spec.items():
        if operator == "$in":
            if not isinstance(operand, list | tuple) or not operand:
                raise InvalidQueryError(f"$in on {name!r} takes a non-empty list")
            if len(operand) > MAX_IN_VALUES:
                raise InvalidQueryError(f"$in on {name!r} takes at most {MAX_IN_VALUES} values")
            found.append(make("$in", tuple(_scalar(name, v) for v in operand)))
        elif operator == "$exists":
            if not isinstance(operand, bool):
                raise InvalidQueryError(f"$exists on {name!r} takes true or false")
            found.append(make("$exists", (operand,)))
        elif operator in RANGE_OPERATORS:
            value = _scalar(name, operand)
            if value is None or isinstance(value, bool):
                raise InvalidQueryError(
                    f"{operator} on {name!r} takes a number or a string (ranges do not "
                    "order null or booleans; use $eq)"
                )
            bound_kinds.add("string" if isinstance(value, str) else "number")
            found.append(make(operator, (value,)))
        else:  # $eq, $ne
            found.append(make(operator, (_scalar(name, operand),)))
    if len(bound_kinds) > 1:
        raise InvalidQueryError(
            f"range on {name!r} mixes a number and a string bound: no value lies between them"
        )
    return found


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


def parse_path(name: object, where: str) -> tuple[str, ...]:
    """``"owner.id"`` -> ``("owner", "id")``. ``\\.`` is a literal dot and ``\\\\`` a
    literal backslash inside a key (as in Mango); any other backslash is itself. Each
    segment is a key a document can hold; the first is not reserved (``_``) and none is
    empty."""
    if not isinstance(name, str) or not name:
        raise InvalidQueryError(f"{where}: field names must be non-empty strings")
    if not _is_valid_unicode(name):
        raise InvalidQueryError(f"{where}: field name {_shown(name)} is not valid unicode")
    segments = split_dotted(name)
    if len(segments) > MAX_DEPTH:
        raise InvalidQueryError(f"{where}: {_shown(name)} is deeper than {MAX_DEPTH} levels")
    for segment in segments:
        _check_key(segment, name, where)
    if segments[0].startswith("_"):
        # Top-level keys starting with "_" are reserved in documents (_id/_rev too).
        raise InvalidQueryError(f"{where}: field {_shown(name)} is reserved")
    return tuple(segments)


def split_dotted(name: str) -> list[str]:
    """The keys of a dotted path: ``"owner.id"`` -> ``["owner", "id"]``; ``\\.`` is a
    literal dot and ``\\\\`` a literal backslash inside a key; any other backslash is
    itself. One rule for every dotted path asyncdb takes (find, order_by, patch)."""
    segments: list[str] = []
    current: list[str] = []
    index = 0
    while index < len(name):
        char = name[index]
        following = name[index + 1 : index + 2]
        if char == "\\" and following in (".", "\\"):
            current.append(following)
            index += 2
            continue
        if char == ".":
            segments.append("".join(current))
            current = []
        else:
            current.append(char)
        index += 1
    segments.append("".join(current))
    return segments


def _check_key(segment: str, name: str, where: str) -> None:
    # A document may hold the empty key, but drivers may store it encoded (Firestore):
    # filtering on it is not portable, so it is refused, not guessed.
    if not segment:
        raise InvalidQueryError(f"{where}: {_shown(name)} has an empty field name")
    size = len(segment.encode("utf-8"))
    if size > MAX_KEY_BYTES:
        raise InvalidQueryError(
            f"{where}: a field name of {size} bytes; the limit is {MAX_KEY_BYTES}"
        )


def _check_field(name: object, where: str) -> str:
    """A top-level field name (a projection or an index field), taken literally."""
    if not isinstance(name, str) or not name:
        raise InvalidQueryError(f"{where}: field names must be non-empty strings")
    if not _is_valid_unicode(name):
        raise InvalidQueryError(f"{where}: field name {_shown(name)} is not valid unicode")
    _check_key(name, name, where)
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
