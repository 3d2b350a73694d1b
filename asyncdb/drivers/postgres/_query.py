"""``find`` and ``ensure_index`` as JSONB expressions, run on the server.

A condition on field ``f`` is ``body -> 'f' = $n::jsonb`` (``= ANY($n::jsonb[])`` for
``$in``). JSONB equality is the contract's: numbers compare as ``numeric`` (``1`` equals
``1.0``), a boolean equals only a boolean, ``null`` only a stored ``null``, and a missing
field gives SQL NULL, which matches nothing. Field names are SQL literals (escaped), not
parameters, so that the planner sees the very expression an index was built on.

``ensure_index`` builds one hash index per field, ``USING hash ((body -> 'f'))``, on the one
table, so it serves that field in every collection. Hash rather than btree: a hash entry is
4 bytes whatever the value, whereas a btree entry over 2,704 bytes would make every later
write of a document with a long value in that field fail. The hash of ``jsonb`` agrees with
its equality (``1`` and ``1.0`` hash alike).
"""

# ruff: noqa: S608 - statements are built from the table name, checked by Table.parse
# against ^[a-z_][a-z0-9_]*$, and from field names written as escaped literals; every
# value travels as a parameter.
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from asyncdb.drivers.base import Driver, Record
from asyncdb.drivers.postgres import _codec
from asyncdb.drivers.postgres._records import record_of

if TYPE_CHECKING:
    import asyncpg

    from asyncdb._query import Order, Query
    from asyncdb.drivers.postgres._tables import Table
    from asyncdb.drivers.postgres._transport import Transport

__all__ = ["FindOps", "field_expression", "find_sql"]


def _literal(text: str) -> str:
    # An E'' literal means the same whatever standard_conforming_strings says.
    return "E'" + text.replace("\\", "\\\\").replace("'", "''") + "'"


def field_expression(field: str) -> str:
    """The JSONB expression of a top-level field (escaped as the stored ``body`` is)."""
    return f"(body -> {_literal(_codec.escape(field))})"


def find_sql(table: Table, query: Query) -> tuple[str, list[Any]]:
    """The statement of one page of ``find`` and its arguments after ``$1`` (collection),
    ``$2`` (the id to start after) and ``$3`` (the page size)."""
    clauses: list[str] = []
    args: list[Any] = []
    for condition in query.conditions:
        values = [_codec.query_value(value) for value in condition.values]
        position = len(args) + 4
        if len(values) == 1:
            clauses.append(f"{field_expression(condition.field)} = ${position}::jsonb")
            args.append(values[0])
        else:
            clauses.append(f"{field_expression(condition.field)} = ANY(${position}::jsonb[])")
            args.append(values)
    where = "".join(f" AND {clause}" for clause in clauses)
    sql = (
        f"SELECT id, rev, coalesce(doc, body::text), full_id FROM {table.sql} "
        f"WHERE collection = $1 AND id > $2{where} ORDER BY id LIMIT $3"
    )
    return sql, args


class FindOps(Driver):
    """``find`` and ``ensure_index`` of the PostgreSQL driver."""

    _transport: Transport
    _table: Table
    _find_page_size: int

    async def find(self, collection: str, query: Query, limit: int | None) -> list[Record]:
        sql, args = find_sql(self._table, query)
        matches: list[Record] = []
        after = ""
        # Paged by id, so that a find over many matches holds one page of rows at a time.
        while True:
            size = self._find_page_size
            if limit is not None:
                size = min(size, limit - len(matches))

            async def work(
                connection: asyncpg.Connection, start: str = after, size: int = size
            ) -> list[Any]:
                return list(await connection.fetch(sql, collection, start, size, *args))

            rows = await self._transport.run(work, f"find in {collection!r}")
            for key, rev, text, full_id in rows:
                record = record_of(collection, key, rev, text, full_id)
                if record is not None:
                    matches.append(record)
            if len(rows) < size or (limit is not None and len(matches) >= limit):
                return matches
            after = rows[-1][0]

    async def ensure_index(
        self, collection: str, fields: Sequence[str], *, order_by: Sequence[Order] = ()
    ) -> None:
        table = self._table
        for field in dict.fromkeys(fields):
            name = table.qualified_index(field)
            create = (
                f'CREATE INDEX IF NOT EXISTS "{table.index_name(field)}" ON {table.sql} '
                f"USING hash ({field_expression(field)})"
            )

            async def work(
                connection: asyncpg.Connection, name: str = name, create: str = create
            ) -> None:
                if await connection.fetchval("SELECT to_regclass($1)", name) is not None:
                    return
                async with connection.transaction():
                    await connection.execute("SELECT pg_advisory_xact_lock($1)", table.lock_key)
                    await connection.execute(create)

            # Creating an index that exists is a no-op: a re-sent attempt changes nothing.
            await self._transport.run(work, f"create an index for {collection!r}")
