"""``find`` and ``ensure_index``: every query natively, on the server, over the JSONB body.

A find is one statement per page (``find_sql``): the conditions, the contract's order and
the position a ``find_page`` resumes after, written on the expressions of ``_sql``, with a
``LIMIT``. Each row is also checked with the reference evaluator (``Query.matches``) on the
exact document text: the SQL is exact, and the check keeps the answer the reference's even
for rows another program wrote. When the check drops rows, the next page resumes after the
sort key PostgreSQL computed for the last row read: memory stays bounded by the page.

``ensure_index(collection, fields, order_by=...)`` builds one composite b-tree expression
index: ``collection``, the rank, number and string prefix of each field (equality fields,
then range fields), the same for each ``order_by`` field in its direction, then the id's
prefix. It serves that shape in every collection of the table. Field names are escaped
literals (``_sql``), never parameters, so that the planner sees the very expressions the
index was built on. An earlier version's hash index per field stays and keeps working (it
is no longer used by ``find``; ``DROP INDEX`` saves its write cost).
"""

# ruff: noqa: S608 - statements are built from the table name, checked by Table.parse
# against ^[a-z_][a-z0-9_]*$, and from field names written as escaped literals; every
# value travels as a parameter.
from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

from asyncdb.drivers.base import Driver, Record
from asyncdb.drivers.postgres._records import record_of
from asyncdb.drivers.postgres._sql import (
    Component,
    Params,
    after_clause,
    index_columns,
    order_sql,
    position_values,
    row_values,
    where_sql,
)

if TYPE_CHECKING:
    import asyncpg

    from asyncdb._query import FieldPath, Order, Query
    from asyncdb.drivers.postgres._tables import Table
    from asyncdb.drivers.postgres._transport import Transport

__all__ = ["FindOps", "find_sql", "index_statement"]

#: Bumped when the form of the index columns changes, so a new form gets a new name.
_INDEX_FORM: Final = "2"
#: Fields (with order fields) one index holds: each takes up to ~290 bytes of an entry,
#: and a b-tree entry holds at most 2,704. A query on more fields is served by a prefix.
MAX_INDEX_FIELDS: Final = 6


def find_sql(
    table: Table, query: Query, resume: Sequence[Any] | None = None
) -> tuple[str, list[Any], list[Component]]:
    """One page of ``find``: the statement, its arguments after ``$1`` (the collection),
    with the page size last, and the sort key's components (the last selected columns).
    ``resume``: the sort key of the row to continue after."""
    params = Params()
    where = where_sql(query, params)
    components = order_sql(query.order_by)
    if query.after is not None:
        start = position_values(query.after.keys, query.after.id)
        where = f"{where} AND {after_clause(components, start, params)}"
    if resume is not None:
        where = f"{where} AND {after_clause(components, resume, params)}"
    keys = ", ".join(c.sql for c in components)
    order = ", ".join(f"{c.sql} {'DESC' if c.descending else 'ASC'}" for c in components)
    size = f"${len(params.values) + 2}"
    sql = (
        f"SELECT id, rev, coalesce(doc, body::text), full_id, {keys} FROM {table.sql} "
        f"WHERE collection = $1 AND {where} ORDER BY {order} LIMIT {size}"
    )
    return sql, params.values, components


def index_statement(table: Table, fields: Sequence[FieldPath], order_by: Sequence[Order]) -> str:
    """The ``CREATE INDEX`` serving ``fields`` (paths) and ``order_by``."""
    paths = list(dict.fromkeys(fields))
    ordered = {entry.path for entry in order_by}
    paths = [path for path in paths if path not in ordered]
    order = list(order_by)[: max(0, MAX_INDEX_FIELDS - len(paths))]
    paths = paths[:MAX_INDEX_FIELDS]
    columns = index_columns(paths, order)
    shape = "\x00".join([_INDEX_FORM, table.name, *columns])
    name = "asyncdb_q_" + hashlib.sha256(shape.encode("utf-8")).hexdigest()[:24]
    return f'CREATE INDEX IF NOT EXISTS "{name}" ON {table.sql} ({", ".join(columns)})'


class FindOps(Driver):
    """``find`` and ``ensure_index`` of the PostgreSQL driver."""

    _transport: Transport
    _table: Table
    _find_page_size: int

    def can_find(self, collection: str, query: Query) -> bool:
        return True  # every condition, order and position has its SQL (``_sql``)

    async def find(self, collection: str, query: Query, limit: int | None) -> list[Record]:
        matches: list[Record] = []
        resume: list[Any] | None = None
        while True:
            size = self._find_page_size
            if limit is not None:
                size = min(size, limit - len(matches))
            sql, args, components = find_sql(self._table, query, resume)

            async def work(
                connection: asyncpg.Connection,
                sql: str = sql,
                args: list[Any] = args,
                size: int = size,
            ) -> list[Any]:
                return list(await connection.fetch(sql, collection, *args, size))

            rows = await self._transport.run(work, f"find in {collection!r}")
            for row in rows:
                found = record_of(collection, row[0], row[1], row[2], row[3])
                if found is not None and query.matches(found.body):
                    matches.append(found)
            if len(rows) < size or (limit is not None and len(matches) >= limit):
                return matches
            resume = row_values(rows[-1], components)

    async def ensure_index(
        self, collection: str, fields: Sequence[FieldPath], *, order_by: Sequence[Order] = ()
    ) -> None:
        table = self._table
        create = index_statement(table, fields, order_by)
        name = create.split('"')[1]
        schema = table.name.split(".")[0] + "." if "." in table.name else ""

        async def work(connection: asyncpg.Connection) -> None:
            if await connection.fetchval("SELECT to_regclass($1)", schema + name) is not None:
                return
            async with connection.transaction():
                await connection.execute("SELECT pg_advisory_xact_lock($1)", table.lock_key)
                await connection.execute(create)

        # Creating an index that exists is a no-op: a re-sent attempt changes nothing.
        await self._transport.run(work, f"create an index for {collection!r}")
