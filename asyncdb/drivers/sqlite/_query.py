"""``find`` in SQL: the portable query as a ``WHERE`` of SQLite's JSON functions, and
``ensure_index`` as expression indexes on the same expressions (so SQLite uses them).

Equality is JSON equality, as the contract says. ``json_extract`` alone would not do: it
answers ``1`` for a stored ``true``, and the JSON text of an object or an array for one.
So each condition also checks ``json_type``: a number matches an ``integer`` or a ``real``
of the same value (``1`` matches ``1.0``), a string only ``text``, ``True`` only ``true``,
``None`` only a stored ``null`` (a missing field has no type, so it matches nothing)::

    (json_extract(body, '$."n"') IN (?, ?) AND json_type(body, '$."n"') IN ('integer', 'real'))

The SQL may select more than the query matches (an ``$in`` mixing ``True`` and ``1``), and
a condition SQLite cannot express exactly is left out of it: one on a field its path syntax
cannot name (``_tables.plain_field``), or on a string holding U+0000 (``json_extract``
stops at it); every selected row is then filtered again with the face's own
``Query.matches``, so the answer is exactly that of filtering a scan. Pages are read by id,
``find_page_size`` rows at a time, until ``limit`` matches are found: memory stays bounded
by the page and the answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from asyncdb._query import Condition, Order, Query
from asyncdb.drivers.base import Record
from asyncdb.drivers.sqlite import _ids
from asyncdb.drivers.sqlite._core import SQLiteCore
from asyncdb.drivers.sqlite._tables import create_index, json_path, plain_field, table
from asyncdb.drivers.sqlite._transport import MissingTable

__all__ = ["FindOps", "where_clause"]

_NUMBER_TYPES = ("integer", "real")


def where_clause(query: Query) -> tuple[str, list[Any]]:
    """The SQL condition selecting (at least) the rows ``query`` matches, and its
    parameters. ``"1"`` (every row) when no condition can be written in SQL."""
    parts: list[str] = []
    params: list[Any] = []
    for condition in query.conditions:
        if _expressible(condition):
            sql, values = _condition(condition)
            parts.append(sql)
            params.extend(values)
    return (" AND ".join(parts) if parts else "1"), params


def _expressible(condition: Condition) -> bool:
    # Equality and $in on a top-level field only (the queries ``Driver.can_find`` lets
    # through); anything else is left to the filter after the query, never guessed.
    if condition.operator not in ("$eq", "$in") or len(getattr(condition, "path", ())) > 1:
        return False
    # json_extract returns a string up to its first U+0000 (it is a C string there), so a
    # value holding one is compared by the filter after the query only.
    return plain_field(condition.field) and not any(
        isinstance(value, str) and "\x00" in value for value in condition.values
    )


def _condition(condition: Condition) -> tuple[str, list[Any]]:
    path = json_path(condition.field)
    extract, kind = f"json_extract(body, {path})", f"json_type(body, {path})"
    values: list[Any] = []
    types: set[str] = set()
    has_null = False
    for value in condition.values:
        if value is None:
            has_null = True
        elif isinstance(value, bool):  # json_extract answers 1 / 0 for true / false
            values.append(int(value))
            types.add("true" if value else "false")
        elif isinstance(value, str):
            values.append(value)
            types.add("text")
        else:
            values.append(value)
            types.update(_NUMBER_TYPES)
    alternatives: list[str] = []
    if values:
        marks = ", ".join("?" * len(values))
        test = f"= {marks}" if len(values) == 1 else f"IN ({marks})"
        allowed = ", ".join(f"'{name}'" for name in sorted(types))
        alternatives.append(f"({extract} {test} AND {kind} IN ({allowed}))")
    if has_null:
        alternatives.append(f"{kind} = 'null'")
    return "(" + " OR ".join(alternatives) + ")", values


class FindOps(SQLiteCore):
    """``find`` and ``ensure_index`` of the SQLite driver."""

    async def find(self, collection: str, query: Query, limit: int | None) -> list[Record]:
        where, params = where_clause(query)
        name = table(collection)
        matches: list[Record] = []
        after: str | None = None
        while True:
            if after is None:
                sql = f"SELECT id, rev, body FROM {name} WHERE {where} ORDER BY id LIMIT ?"  # noqa: S608 - quoted names, values bound
                page_params = [*params, self._find_page_size]
            else:
                sql = (
                    f"SELECT id, rev, body FROM {name} WHERE ({where}) AND id > ? "  # noqa: S608 - quoted names, values bound
                    "ORDER BY id LIMIT ?"
                )
                page_params = [*params, _ids.encode(after), self._find_page_size]
            try:
                rows = await self._transport.rows(sql, page_params, what="find")
            except MissingTable:
                return []
            for found in self._readable(collection, rows):
                if query.matches(found.body):
                    matches.append(found)
                    if limit is not None and len(matches) >= limit:
                        return matches
            if len(rows) < self._find_page_size:
                return matches
            after = _ids.decode(rows[-1][0])

    async def ensure_index(
        self, collection: str, fields: Sequence[str], *, order_by: Sequence[Order] = ()
    ) -> None:
        # Fields SQLite's paths cannot name are filtered after the query: no index helps.
        plain = [name for name in fields if plain_field(name)]
        if not plain:
            return
        sql = create_index(collection, plain)
        try:
            await self._transport.rows(sql, what="ensure_index", writing=True)
        except MissingTable:
            await self._transport.ensure_table(collection)
            await self._transport.rows(sql, what="ensure_index", writing=True)
