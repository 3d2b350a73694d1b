"""The portable query as SQLite SQL: conditions, the contract's order, resume positions.

Every field a query names becomes two expressions (``Field``):

- its *rank*, the contract's class of the stored value (docs/contract.md, "Order"):
  0 missing, 1 null, 2 false, 3 true, 4 number, 5 string, 6 list, 7 map, from
  ``json_type`` (NULL when the path is missing);
- its *value*: the number or the string itself, and ``0`` for every other class, so that
  two lists (or two maps, or two nulls) are equal, as the contract says, and no NULL ever
  reaches a row-value comparison.

Ordering by ``(rank, value)`` is the contract's order: SQLite compares an ``integer`` with a
``real`` by value (exactly, also near 2**63), and ``TEXT`` with the ``BINARY`` collation,
``memcmp`` of UTF-8, which is code point order. Ties go by ``id`` (stored as itself,
``_ids``). Conditions are written on the same two expressions (``rank = 5 AND value = ?``),
so one expression index (``index_columns``) serves both the filter and the order.

A path is ``json_type(body, '$."a"."b"')`` when SQLite's path syntax can name every segment
(``plain_field``); any other segment (a ``"``, a ``\\``, a control character) is reached
through ``json_each``, its key a bound parameter: exact, but no index can hold it.

One thing SQL cannot see exactly: ``json_extract`` returns a string up to its first
U+0000. So a condition on strings also selects every row whose body holds the escape
``\\u0000`` (a superset), and the driver filters every row again with the reference
evaluator; only the *order* of two strings that agree up to a U+0000 is not exact.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from asyncdb._query import Condition, Order, Query, Scalar
from asyncdb.drivers.sqlite._tables import plain_field

__all__ = [
    "Component",
    "Field",
    "Params",
    "after_clause",
    "condition_sql",
    "order_sql",
    "position_values",
    "where_sql",
]

_NUMBER, _STRING = 4, 5
_VALUED: Final = frozenset({_NUMBER, _STRING})
#: Bodies holding U+0000 somewhere (written by json as this escape): see the docstring.
_HOLDS_NUL: Final = "instr(body, '\\u0000') > 0"


class Params:
    """Numbered parameters (``?1``, ``?2``...), so an expression may repeat one anywhere
    in the statement (select list, where, order by) without caring about their order."""

    def __init__(self, values: Sequence[Any] = ()) -> None:
        self.values: list[Any] = list(values)

    def copy(self) -> Params:
        return Params(self.values)

    def add(self, value: Any) -> str:
        self.values.append(value)
        return f"?{len(self.values)}"


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@dataclass(frozen=True, slots=True)
class Field:
    """The rank and value expressions of one path."""

    rank: str
    value: str

    @classmethod
    def of(cls, segments: Sequence[str], params: Params | None) -> Field | None:
        """The expressions of ``segments``; ``None`` when they need parameters (a segment
        SQLite's paths cannot name) and ``params`` is ``None`` (an index cannot hold
        them)."""
        if all(plain_field(segment) for segment in segments):
            path = _literal("$" + "".join(f'."{segment}"' for segment in segments))
            kind, atom = f"json_type(body, {path})", f"json_extract(body, {path})"
        elif params is None:
            return None
        else:
            kind, atom = _walk(segments, params, "type"), _walk(segments, params, "atom")
        rank = (
            f"(CASE {kind} WHEN 'null' THEN 1 WHEN 'false' THEN 2 WHEN 'true' THEN 3 "
            "WHEN 'integer' THEN 4 WHEN 'real' THEN 4 WHEN 'text' THEN 5 "
            "WHEN 'array' THEN 6 WHEN 'object' THEN 7 ELSE 0 END)"
        )
        value = f"(CASE WHEN {kind} IN ('integer', 'real', 'text') THEN {atom} ELSE 0 END)"
        return cls(rank, value)


def _walk(segments: Sequence[str], params: Params, column: str) -> str:
    """``column`` of the value at ``segments``, one ``json_each`` per segment (its key a
    bound parameter); a segment under a non-object finds nothing (NULL: missing)."""
    sources: list[str] = []
    tests: list[str] = []
    for depth, segment in enumerate(segments):
        alias = f"e{depth}"
        if depth == 0:
            sources.append(f"json_each(body) AS {alias}")
        else:
            parent = f"e{depth - 1}"
            sources.append(
                f"json_each(CASE WHEN {parent}.type = 'object' THEN {parent}.value "
                f"ELSE '{{}}' END) AS {alias}"
            )
        tests.append(f"{alias}.key = {params.add(segment)}")
    last = f"e{len(segments) - 1}"
    # Only aliases, fixed column names and numbered parameters: no text of the caller's.
    select = f"SELECT {last}.{column} FROM {', '.join(sources)}"  # noqa: S608
    return f"({select} WHERE {' AND '.join(tests)})"


def _before_nul(text: str) -> str:
    return text.split("\x00", 1)[0]


def _equal(field: Field, values: Sequence[Scalar], params: Params) -> str:
    """The rows whose value equals one of ``values`` (a superset for strings: see the
    module docstring)."""
    ranks: list[int] = []
    numbers: list[str] = []
    strings: list[str] = []
    for value in values:
        if value is None:
            ranks.append(1)
        elif isinstance(value, bool):
            ranks.append(3 if value else 2)
        elif isinstance(value, str):
            strings.append(params.add(_before_nul(value)))
        else:
            numbers.append(params.add(value))
    alternatives: list[str] = []
    if ranks:
        listed = ", ".join(str(rank) for rank in sorted(set(ranks)))
        alternatives.append(f"{field.rank} IN ({listed})")
    for rank, marks in ((_NUMBER, numbers), (_STRING, strings)):
        if marks:
            test = f"= {marks[0]}" if len(marks) == 1 else f"IN ({', '.join(marks)})"
            alternatives.append(f"({field.rank} = {rank} AND {field.value} {test})")
    return alternatives[0] if len(alternatives) == 1 else "(" + " OR ".join(alternatives) + ")"


_RANGE: Final = {"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}


def condition_sql(condition: Condition, params: Params) -> str:
    """SQL selecting (at least) the rows ``condition`` holds for."""
    field = Field.of(condition.segments, params)
    assert field is not None  # params given
    operator = condition.operator
    if operator == "$exists":
        return f"{field.rank} {'<>' if condition.values[0] else '='} 0"
    if operator in ("$eq", "$in"):
        return _equal(field, condition.values, params)
    if operator == "$ne":
        value = condition.values[0]
        test = f"({field.rank} <> 0 AND NOT {_equal(field, (value,), params)})"
        return f"({test} OR {_HOLDS_NUL})" if isinstance(value, str) else test
    bound = condition.values[0]
    assert isinstance(bound, str | int | float) and not isinstance(bound, bool)
    if not isinstance(bound, str):
        return (
            f"({field.rank} = {_NUMBER} AND {field.value} {_RANGE[operator]} {params.add(bound)})"
        )
    # Cut at U+0000 the bound compares as SQL sees stored strings; widening > to >= (and
    # < to <=) keeps a superset, which the driver's filter then makes exact.
    sign = _RANGE[operator]
    widened = sign[0] + "=" if "\x00" in bound else sign
    mark = params.add(_before_nul(bound))
    return f"({field.rank} = {_STRING} AND ({field.value} {widened} {mark} OR {_HOLDS_NUL}))"


@dataclass(frozen=True, slots=True)
class Component:
    """One part of the sort key: an expression and its direction."""

    sql: str
    descending: bool


def order_sql(order: Sequence[Order], params: Params) -> list[Component]:
    """The sort key of ``order``: each field's rank and value, then ``id`` in the
    direction of the last field (ascending without one)."""
    components: list[Component] = []
    for entry in order:
        field = Field.of(entry.path, params)
        assert field is not None
        components.append(Component(field.rank, entry.descending))
        components.append(Component(field.value, entry.descending))
    components.append(Component("id", bool(order) and order[-1].descending))
    return components


def position_values(keys: Sequence[tuple[Any, ...]], doc_id: str) -> list[Any]:
    """A ``Position`` as the values of ``order_sql``'s components."""
    values: list[Any] = []
    for key in keys:
        values.append(key[0])
        values.append(key[1] if key[0] in _VALUED else 0)
    values.append(doc_id)
    return values


def after_clause(components: Sequence[Component], values: Sequence[Any], params: Params) -> str:
    """The rows that sort strictly after ``values`` under ``components``: runs of
    components in one direction compare as one row value, chained for mixed directions.
    (SQLite 3.40 does not start an index scan at a row value over expressions: a later
    page walks the index from the start of its equality group and filters.)"""
    runs: list[tuple[list[str], list[str], bool]] = []
    for component, value in zip(components, values, strict=True):
        mark = params.add(value)
        if runs and runs[-1][2] == component.descending:
            runs[-1][0].append(component.sql)
            runs[-1][1].append(mark)
        else:
            runs.append(([component.sql], [mark], component.descending))
    clause = ""
    for columns, marks, descending in reversed(runs):
        left, right = _row(columns), _row(marks)
        strict = f"{left} {'<' if descending else '>'} {right}"
        clause = strict if not clause else f"({strict} OR ({left} = {right} AND {clause}))"
    return clause


def _row(parts: Sequence[str]) -> str:
    return parts[0] if len(parts) == 1 else "(" + ", ".join(parts) + ")"


def where_sql(query: Query, params: Params) -> str:
    """Every condition of ``query``, ANDed (``1`` without one)."""
    parts = [condition_sql(condition, params) for condition in query.conditions]
    return " AND ".join(parts) if parts else "1"
