"""The portable query as SQLite SQL: conditions, the contract's order, resume positions.

Every field a query names becomes one *key* expression (``Field``), a value whose SQLite
order is the contract's (docs/contract.md, "Order"). SQLite orders NULL < numbers <
``TEXT`` < ``BLOB``, comparing an ``integer`` with a ``real`` by value (exactly, also near
2**63) and ``TEXT`` with the ``BINARY`` collation, ``memcmp`` of UTF-8, which is code point
order. So the key is the number or the string itself (``json_extract``), and for the
other classes a constant where the contract puts them: a missing field, ``null``,
``false`` and ``true`` are the reals -1e308, -1e307, -1e306 and -1e305 (below every
portable number, which is above -1e126), every list the blob ``x'01'``, every map
``x'02'`` (all lists equal, all maps equal). No key is NULL, so row-value comparisons
never meet one. Ties go by ``id`` (stored as itself, ``_ids``).

Conditions are written on the same key (``key = ?``, ``key IN (...)``, a range bracketed
by type: ``key > ? AND key < ''`` for a number, since every text sorts above every
number), so one expression index (``_query.index_statement``) serves the filter, the
order, and the start of a later page (``after_clause``'s scalar seek).

A path is ``json_type(body, '$."a"."b"')`` when SQLite's path syntax can name every segment
(``plain_field``); any other segment (a ``"``, a ``\\``, a control character) is reached
through ``json_each``, its key a bound parameter: exact, but no index can hold it.

One thing SQL cannot see exactly: ``json_extract`` returns a string up to its first
U+0000. So a condition on strings also selects every row whose body holds the escape
``\\u0000`` (a superset), and the driver filters such rows again with the reference
evaluator; only the *order* of two strings that agree up to a U+0000 is not exact.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from asyncdb._query import Condition, Order, Query, Scalar
from asyncdb.drivers._keyset import runs_of, strictly_after
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
#: The key of each class without a value of its own, by rank (see the docstring).
_CONSTANT: Final[dict[int, float | bytes]] = {
    0: -1e308,
    1: -1e307,
    2: -1e306,
    3: -1e305,
    6: b"\x01",
    7: b"\x02",
}
_MISSING_KEY: Final = "-1e308"
#: Between the constants and every portable number (all above -1e126).
_BELOW_NUMBERS: Final = "-1e300"
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
    """The key expression of one path."""

    key: str

    @classmethod
    def of(cls, segments: Sequence[str], params: Params | None) -> Field | None:
        """The key of ``segments``; ``None`` when it needs parameters (a segment SQLite's
        paths cannot name) and ``params`` is ``None`` (an index cannot hold it)."""
        if all(plain_field(segment) for segment in segments):
            path = _literal("$" + "".join(f'."{segment}"' for segment in segments))
            kind, atom = f"json_type(body, {path})", f"json_extract(body, {path})"
        elif params is None:
            return None
        else:
            kind, atom = _walk(segments, params, "type"), _walk(segments, params, "atom")
        key = (
            f"(CASE {kind} WHEN 'integer' THEN {atom} WHEN 'real' THEN {atom} "
            f"WHEN 'text' THEN {atom} WHEN 'null' THEN -1e307 WHEN 'false' THEN -1e306 "
            f"WHEN 'true' THEN -1e305 WHEN 'array' THEN x'01' WHEN 'object' THEN x'02' "
            f"ELSE {_MISSING_KEY} END)"
        )
        return cls(key)


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


def _key_of(value: Scalar) -> Any:
    """The key a stored ``value`` has (a string cut at U+0000, as SQL sees it)."""
    if value is None:
        return _CONSTANT[1]
    if isinstance(value, bool):
        return _CONSTANT[3 if value else 2]
    if isinstance(value, str):
        return _before_nul(value)
    return value


def _equal(field: Field, values: Sequence[Scalar], params: Params) -> str:
    """The rows whose value equals one of ``values`` (a superset for strings holding
    U+0000: see the module docstring)."""
    marks = [params.add(_key_of(value)) for value in values]
    return (
        f"{field.key} = {marks[0]}" if len(marks) == 1 else f"{field.key} IN ({', '.join(marks)})"
    )


_RANGE: Final = {"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}
#: The keys of strings: from the smallest text up to (not including) the smallest blob.
_STRINGS: Final = "{key} >= '' AND {key} < x''"


def condition_sql(condition: Condition, params: Params) -> str:
    """SQL selecting (at least) the rows ``condition`` holds for."""
    field = Field.of(condition.segments, params)
    assert field is not None  # params given
    key = field.key
    operator = condition.operator
    if operator == "$exists":
        return f"{key} {'>' if condition.values[0] else '='} {_MISSING_KEY}"
    if operator in ("$eq", "$in"):
        return _equal(field, condition.values, params)
    if operator == "$ne":
        value = condition.values[0]
        test = f"({key} > {_MISSING_KEY} AND {key} <> {params.add(_key_of(value))})"
        return f"({test} OR {_HOLDS_NUL})" if isinstance(value, str) else test
    bound = condition.values[0]
    assert isinstance(bound, str | int | float) and not isinstance(bound, bool)
    sign = _RANGE[operator]
    if not isinstance(bound, str):
        # Ranges are bracketed by type: numbers lie between the constants and every text.
        other = f"{key} < ''" if sign[0] == ">" else f"{key} > {_BELOW_NUMBERS}"
        return f"({key} {sign} {params.add(bound)} AND {other})"
    # Cut at U+0000 the bound compares as SQL sees stored strings; widening > to >= (and
    # < to <=) keeps a superset, which the driver's filter then makes exact.
    widened = sign[0] + "=" if "\x00" in bound else sign
    mark = params.add(_before_nul(bound))
    strings = _STRINGS.format(key=key)
    return f"({strings} AND ({key} {widened} {mark} OR {_HOLDS_NUL}))"


@dataclass(frozen=True, slots=True)
class Component:
    """One part of the sort key: an expression and its direction."""

    sql: str
    descending: bool


def order_sql(order: Sequence[Order], params: Params) -> list[Component]:
    """The sort key of ``order``: each field's key, then ``id`` in the direction of the
    last field (ascending without one)."""
    components: list[Component] = []
    for entry in order:
        field = Field.of(entry.path, params)
        assert field is not None
        components.append(Component(field.key, entry.descending))
    components.append(Component("id", bool(order) and order[-1].descending))
    return components


def position_values(keys: Sequence[tuple[Any, ...]], doc_id: str) -> list[Any]:
    """A ``Position`` (rank tuples and id) as the values of ``order_sql``'s components."""
    values: list[Any] = [_CONSTANT[key[0]] if len(key) == 1 else key[1] for key in keys]
    return [*values, doc_id]


def after_clause(components: Sequence[Component], values: Sequence[Any], params: Params) -> str:
    """The rows that sort strictly after ``values`` under ``components``: runs of
    components in one direction compare as one row value, chained for mixed directions."""
    runs = runs_of(
        (component.sql, params.add(value), component.descending)
        for component, value in zip(components, values, strict=True)
    )
    clause = strictly_after(runs, _row)
    # The first key compared alone, non-strictly: implied by the clause, and (unlike a row
    # value over expressions) a range SQLite starts an index scan at, so that a later
    # page does not walk the earlier ones again.
    first, descending = components[0].sql, components[0].descending
    return f"{first} {'<=' if descending else '>='} {runs[0].marks[0]} AND {clause}"


def _row(parts: Sequence[str]) -> str:
    return parts[0] if len(parts) == 1 else "(" + ", ".join(parts) + ")"


def where_sql(query: Query, params: Params) -> str:
    """Every condition of ``query``, ANDed (``1`` without one)."""
    parts = [condition_sql(condition, params) for condition in query.conditions]
    return " AND ".join(parts) if parts else "1"
