"""``find`` in SQL, every query natively, and ``ensure_index`` as expression indexes on the
very expressions ``find`` emits (``_sql``), so SQLite's planner uses them.

A find is one statement per page: the conditions, the contract's order (``ORDER BY`` each
field's key, then ``id``), the position a ``find_page`` resumes after, and a
``LIMIT``. The SQL selects exactly the matching rows except around strings holding U+0000,
where it selects a superset (``_sql``): a row whose body holds one is filtered again with
the reference evaluator (``Query.matches``). When that check drops rows, the next page
resumes after the last row read, by the sort key SQLite computed for it: memory stays
bounded by the page and the answer.

``ensure_index(collection, fields, order_by=...)`` builds one composite expression index:
the key of each field (equality fields, then range fields), then that of each
``order_by`` field in its direction, then ``id`` in the direction of the last one. A
query whose equality conditions pin the leading fields reads the index in order: no sort,
and ``LIMIT`` stops the read early.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from asyncdb._query import FieldPath, Order, Query
from asyncdb.drivers.base import Record
from asyncdb.drivers.sqlite._core import SQLiteCore
from asyncdb.drivers.sqlite._sql import (
    Field,
    Params,
    after_clause,
    order_sql,
    position_values,
    where_sql,
)
from asyncdb.drivers.sqlite._tables import TABLE_PREFIX, quoted, table
from asyncdb.drivers.sqlite._transport import MissingTable

__all__ = ["FindOps", "index_statement", "where_clause"]

#: Bumped when the form of the index columns changes, so a new form gets a new name.
_INDEX_FORM = "3"


def _direction(descending: bool) -> str:
    return "DESC" if descending else "ASC"


def index_statement(
    collection: str, fields: Sequence[FieldPath], order_by: Sequence[Order]
) -> str | None:
    """The ``CREATE INDEX`` serving ``fields`` (dotted paths; equality, then range) and
    ``order_by``; ``None`` when no field can be indexed."""
    ordered = [entry.path for entry in order_by]
    columns: list[str] = []
    for path in dict.fromkeys(fields):
        field = Field.of(path, None)
        # A field SQLite's paths cannot name is filtered without an index; a field that
        # is also ordered is served by its order columns.
        if field is not None and path not in ordered:
            columns.append(field.key)
    served: list[Order] = []
    for entry in order_by:
        field = Field.of(entry.path, None)
        if field is None:
            break  # the columns after one the index cannot hold would not serve the order
        direction = _direction(entry.descending)
        columns.append(f"{field.key} {direction}")
        served.append(entry)
    if not columns:
        return None
    if len(served) == len(order_by):
        columns.append(f"id {_direction(bool(order_by) and order_by[-1].descending)}")
    shape = "\x00".join([_INDEX_FORM, *columns])
    digest = hashlib.sha256(shape.encode("utf-8")).hexdigest()[:16]
    name = quoted(f"{TABLE_PREFIX}{collection}:q{digest}")
    return f"CREATE INDEX IF NOT EXISTS {name} ON {table(collection)} ({', '.join(columns)})"


class FindOps(SQLiteCore):
    """``find`` and ``ensure_index`` of the SQLite driver."""

    def can_find(self, collection: str, query: Query) -> bool:
        return True  # every condition, order and position has its SQL (``_sql``)

    async def find(self, collection: str, query: Query, limit: int | None) -> list[Record]:
        params = Params()
        where = where_sql(query, params)
        components = order_sql(query.order_by, params)
        if query.after is not None:
            start = position_values(query.after.keys, query.after.id)
            where = f"{where} AND {after_clause(components, start, params)}"
        keys = "".join(f", {c.sql}" for c in components[:-1])
        order = ", ".join(f"{c.sql} {_direction(c.descending)}" for c in components)
        name = table(collection)
        nul_in_query = any(
            isinstance(value, str) and "\x00" in value
            for condition in query.conditions
            for value in condition.values
        )
        matches: list[Record] = []
        resume: list[object] | None = None
        while True:
            size = self._find_page_size
            if limit is not None:
                size = min(size, limit - len(matches))
            page = params.copy()
            clause = where
            if resume is not None:
                clause = f"{where} AND {after_clause(components, resume, page)}"
            sql = (
                f"SELECT id, rev, body{keys} FROM {name} WHERE {clause} "  # noqa: S608 - quoted names, escaped paths, values bound
                f"ORDER BY {order} LIMIT {page.add(size)}"
            )
            try:
                rows = await self._transport.rows(sql, page.values, what="find")
            except MissingTable:
                return []
            for row in rows:
                # The SQL is exact unless U+0000 is in a query value or the body (``_sql``):
                # only then may it have selected a superset, for the reference to filter.
                exact = not nul_in_query and "\\u0000" not in row[2]
                for found in self._readable(collection, [row[:3]]):
                    if exact or query.matches(found.body):
                        matches.append(found)
            if len(rows) < size or (limit is not None and len(matches) >= limit):
                return matches
            last = rows[-1]
            resume = [*last[3:], last[0]]

    async def ensure_index(
        self, collection: str, fields: Sequence[FieldPath], *, order_by: Sequence[Order] = ()
    ) -> None:
        sql = index_statement(collection, fields, order_by)
        if sql is None:
            return
        try:
            await self._transport.rows(sql, what="ensure_index", writing=True)
        except MissingTable:
            await self._transport.ensure_table(collection)
            await self._transport.rows(sql, what="ensure_index", writing=True)


def where_clause(query: Query) -> tuple[str, list[object]]:
    """The SQL condition ``find`` uses for ``query``, and its parameters (for EXPLAIN)."""
    params = Params()
    return where_sql(query, params), params.values
