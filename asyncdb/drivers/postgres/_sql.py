"""The portable query as PostgreSQL SQL over the JSONB ``body``: conditions, the contract's
order, resume positions, and the index columns that serve them.

Every field a query names becomes four expressions (``Field``) of ``j = body -> 'a' -> 'b'``
(each key an escaped literal, so that the planner sees the very expression an index holds):

- ``rank``, the contract's class of the value (docs/contract.md, "Order"): 0 missing,
  1 null, 2 false, 3 true, 4 number, 5 string, 6 list, 7 map (``jsonb_typeof``);
- ``num``, the number as ``numeric`` (``0`` for any other class): JSONB keeps numbers as
  ``numeric``, so ``1`` equals ``1.0`` and ints near 2**63 stay exact;
- ``key``, the first 64 characters of a string, ``COLLATE "C"`` (``''`` otherwise): what
  the index holds. A whole string would not do: a b-tree entry holds at most 2,704 bytes,
  and a longer value would make the write of its document fail;
- ``text``, the whole string, ``COLLATE "C"``: byte order of UTF-8, which is code point
  order whatever the database's default collation.

Ordering by ``(rank, num, key, text)`` is the contract's order (``key`` is a prefix of
``text``, so it never disagrees with it); lists and maps sort by rank alone. Ties go by the
decoded id, ``coalesce(full_id, id)`` (a long id is stored under a digest, ``_ids``,
which does not sort like the id), its first 64 characters first, for the index.
Conditions are written on the same expressions (``rank = 5 AND num = 0 AND key = $k AND
text = $t``), so that equality pins an index's leading columns and its order serves the
``ORDER BY``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from asyncdb._query import Condition, Order, Query, Scalar
from asyncdb.drivers._keyset import runs_of, strictly_after
from asyncdb.drivers.postgres import _codec

__all__ = [
    "KEY_LENGTH",
    "Component",
    "Field",
    "Params",
    "after_clause",
    "condition_sql",
    "order_sql",
    "position_values",
    "row_values",
    "where_sql",
]

#: Characters of a string (and of an id) an index holds: at most 256 bytes each.
KEY_LENGTH: Final = 64
_NUMBER, _STRING = 4, 5
_TIE_KEY: Final = f'(left(coalesce(full_id, id), {KEY_LENGTH}) COLLATE "C")'
_TIE: Final = '(coalesce(full_id, id) COLLATE "C")'


class Params:
    """Positional parameters after the fixed ones (``$1`` is the collection)."""

    def __init__(self, values: Sequence[Any] = (), first: int = 2) -> None:
        self.values: list[Any] = list(values)
        self._first = first

    def copy(self) -> Params:
        return Params(self.values, self._first)

    def add(self, value: Any, cast: str) -> str:
        self.values.append(value)
        return f"${len(self.values) + self._first - 1}::{cast}"


def _literal(text: str) -> str:
    # An E'' literal means the same whatever standard_conforming_strings says.
    return "E'" + text.replace("\\", "\\\\").replace("'", "''") + "'"


def number(value: int | float | Decimal) -> Decimal:
    """A number as the ``numeric`` JSONB compares it with: a float by its JSON text, or
    by its exact value where ``body`` holds that (``_codec.exact_float``)."""
    if isinstance(value, float):
        exact = _codec.exact_float(value)
        return Decimal(exact) if isinstance(exact, int) else Decimal(repr(value))
    return Decimal(value)


@dataclass(frozen=True, slots=True)
class Field:
    """The four expressions of one path."""

    rank: str
    num: str
    key: str
    text: str

    @classmethod
    def of(cls, segments: Sequence[str]) -> Field:
        j = "(body" + "".join(f" -> {_literal(_codec.escape(s))}" for s in segments) + ")"
        kind = f"jsonb_typeof({j})"
        rank = (
            f"(CASE {kind} WHEN 'null' THEN 1 WHEN 'boolean' THEN "
            f"(CASE WHEN {j} = 'true'::jsonb THEN 3 ELSE 2 END) WHEN 'number' THEN 4 "
            "WHEN 'string' THEN 5 WHEN 'array' THEN 6 WHEN 'object' THEN 7 ELSE 0 END)"
        )
        num = f"(CASE WHEN {kind} = 'number' THEN ({j})::numeric ELSE 0 END)"
        string = f"{j} #>> '{{}}'"
        key = (
            f"((CASE WHEN {kind} = 'string' THEN left({string}, {KEY_LENGTH}) ELSE '' END) "
            'COLLATE "C")'
        )
        text = f"((CASE WHEN {kind} = 'string' THEN {string} ELSE '' END) COLLATE \"C\")"
        return cls(rank, num, key, text)

    @property
    def indexed(self) -> list[str]:
        """The columns an index holds for this field."""
        return [self.rank, self.num, self.key]


def _equal_one(field: Field, value: Scalar, params: Params) -> str:
    if value is None or isinstance(value, bool):
        rank = 1 if value is None else 3 if value else 2
        return f"({field.rank} = {rank} AND {field.num} = 0 AND {field.key} = '')"
    if isinstance(value, str):
        return (
            f"({field.rank} = {_STRING} AND {field.num} = 0 AND "
            f"{_compare_string(field, '=', _codec.escape(value), params)})"
        )
    mark = params.add(number(value), "numeric")
    return f"({field.rank} = {_NUMBER} AND {field.num} = {mark} AND {field.key} = '')"


def _equal(field: Field, values: Sequence[Scalar], params: Params) -> str:
    # Not deduplicated through a dict: True == 1 there, and they are different values.
    tests = [_equal_one(field, value, params) for value in values]
    return tests[0] if len(tests) == 1 else "(" + " OR ".join(tests) + ")"


_RANGE: Final = {"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}


def condition_sql(condition: Condition, params: Params) -> str:
    """The SQL of one condition (exact: no row it does not hold for)."""
    field = Field.of(condition.segments)
    operator = condition.operator
    if operator == "$exists":
        return f"{field.rank} {'<>' if condition.values[0] else '='} 0"
    if operator in ("$eq", "$in"):
        return _equal(field, condition.values, params)
    if operator == "$ne":
        return f"({field.rank} <> 0 AND NOT {_equal(field, condition.values, params)})"
    bound = condition.values[0]
    assert isinstance(bound, str | int | float) and not isinstance(bound, bool)
    sign = _RANGE[operator]
    if not isinstance(bound, str):
        mark = params.add(number(bound), "numeric")
        return f"({field.rank} = {_NUMBER} AND {field.num} {sign} {mark})"
    test = _compare_string(field, sign, _codec.escape(bound), params)
    return f"({field.rank} = {_STRING} AND {field.num} = 0 AND {test})"


def _compare_string(field: Field, sign: str, escaped: str, params: Params) -> str:
    """``text <sign> escaped`` in terms the index can use. For a value shorter than the
    prefix, the prefix alone decides exactly (``left(s, 64) > v`` exactly when ``s > v``
    for ``v`` shorter than 64 characters), and the planner then sees no extra filter; a
    longer one narrows by the prefix (never excluding a match) and the whole string
    decides."""
    if len(escaped) < KEY_LENGTH:
        return f"{field.key} {sign} {params.add(escaped, 'text')}"
    widened = sign if sign == "=" else sign[0] + "="
    key = params.add(escaped[:KEY_LENGTH], "text")
    return f"{field.key} {widened} {key} AND {field.text} {sign} {params.add(escaped, 'text')}"


def where_sql(query: Query, params: Params) -> str:
    """Every condition of ``query``, ANDed (``TRUE`` without one)."""
    parts = [condition_sql(condition, params) for condition in query.conditions]
    return " AND ".join(parts) if parts else "TRUE"


@dataclass(frozen=True, slots=True)
class Component:
    """One part of the sort key: an expression, its type and its direction."""

    sql: str
    cast: str
    descending: bool
    #: Whether an index holds it (the whole string and the whole id are not).
    indexed: bool = True


def order_sql(order: Sequence[Order]) -> list[Component]:
    """The sort key of ``order``: each field's rank, number, string prefix and string, then
    the id (prefix, whole) in the direction of the last field (ascending without one)."""
    components: list[Component] = []
    for entry in order:
        field = Field.of(entry.path)
        down = entry.descending
        components += [
            Component(field.rank, "int", down),
            Component(field.num, "numeric", down),
            Component(field.key, "text", down),
            Component(field.text, "text", down, indexed=False),
        ]
    down = bool(order) and order[-1].descending
    return [*components, Component(_TIE_KEY, "text", down), Component(_TIE, "text", down, False)]


def position_values(keys: Sequence[tuple[Any, ...]], doc_id: str) -> list[Any]:
    """A ``Position`` (rank tuples and id) as the values of ``order_sql``'s components."""
    values: list[Any] = []
    for key in keys:
        rank, value = key[0], key[1] if len(key) > 1 else 0
        text = _codec.escape(value) if rank == _STRING else ""
        amount = number(value) if rank == _NUMBER else Decimal(0)
        values += [rank, amount, text[:KEY_LENGTH], text]
    return [*values, doc_id[:KEY_LENGTH], doc_id]


def row_values(row: Sequence[Any], components: Sequence[Component]) -> list[Any]:
    """The sort key PostgreSQL computed for a row (the last columns of ``find``'s select)."""
    return list(row[len(row) - len(components) :])


def after_clause(components: Sequence[Component], values: Sequence[Any], params: Params) -> str:
    """The rows that sort strictly after ``values``: runs of components in one direction
    compare as one row value (which a b-tree can seek), chained for mixed directions."""
    runs = runs_of(
        (component.sql, params.add(value, component.cast), component.descending)
        for component, value in zip(components, values, strict=True)
    )
    clause = strictly_after(runs, _row)
    # The leading components an index holds, compared non-strictly: implied by the clause,
    # and a row comparison an index scan starts at, so that a later page does not read the
    # earlier ones again (a chain for mixed directions could only filter).
    columns, marks, descending = runs[0].columns, runs[0].marks, runs[0].descending
    held = 0
    while held < len(columns) and components[held].indexed:
        held += 1
    if held:
        seek = f"{_row(columns[:held])} {'<=' if descending else '>='} {_row(marks[:held])}"
        clause = f"{seek} AND {clause}"
    return clause


def _row(parts: Sequence[str]) -> str:
    return parts[0] if len(parts) == 1 else "ROW(" + ", ".join(parts) + ")"


def index_columns(fields: Sequence[Sequence[str]], order: Sequence[Order]) -> list[str]:
    """The columns of the index serving ``fields`` (paths: equality, then range) and
    ``order``: ``collection``, each field's indexed expressions, each order field's in its
    direction, then the id's prefix."""
    columns = ["collection"]
    ordered = [entry.path for entry in order]
    for path in fields:
        if tuple(path) not in ordered:
            columns += Field.of(path).indexed
    for entry in order:
        direction = " DESC" if entry.descending else ""
        columns += [column + direction for column in Field.of(entry.path).indexed]
    down = " DESC" if order and order[-1].descending else ""
    return [*columns, _TIE_KEY + down]
