"""The one-off upgrade of a table's ``body`` column to the query forms ``_codec`` writes.

Tables written by asyncdb before ``_codec``'s two exactness rules (the order-keeping escape
of U+0000 and U+0001, and floats of 2**53 or more as their exact integers) hold ``body``
forms that ``find`` would now compare wrongly. At the first open, under the table's
advisory lock, the rows whose exact text (``doc``) holds either are cast again from it, and
the table's ``COMMENT`` records that it is done, so that later opens cost one catalog read.
The rows are found with the very regular expression that picks ``_codec``'s slower path, so
every row that needs a new form gets one. ``doc`` never changes, so neither does a read,
nor a revision.
"""

# ruff: noqa: S608 - statements are built from the table name, checked by Table.parse.
from __future__ import annotations

import logging
from typing import Final

import asyncpg

from asyncdb.drivers.postgres import _codec
from asyncdb.drivers.postgres._tables import Table, Work

__all__ = ["MARK", "recast_work"]

logger = logging.getLogger("asyncdb")

#: The table comment of a table whose ``body`` holds the current query forms.
MARK: Final = "asyncdb: query forms 2"
_COMMENT: Final = "SELECT obj_description(to_regclass($1), 'pg_class')"


def recast_work(table: Table) -> Work:
    """The upgrade (nothing when the table's comment says it is done)."""

    async def work(connection: asyncpg.Connection) -> None:
        if await connection.fetchval(_COMMENT, table.sql) == MARK:
            return
        async with connection.transaction():
            await connection.execute("SELECT pg_advisory_xact_lock($1)", table.lock_key)
            if await connection.fetchval(_COMMENT, table.sql) == MARK:
                return  # another driver did it while this one waited for the lock
            rows = await connection.fetch(
                f"SELECT collection, id, doc FROM {table.sql} WHERE doc IS NOT NULL AND doc ~ $1",
                _codec.NEEDS_ESCAPE_PATTERN,
            )
            for row in rows:
                body = _codec.loads_object(row["doc"])
                source = None if body is None else _codec.encode(body)[1]
                if source is not None:
                    await connection.execute(
                        # Only over the text it was cast from: a write meanwhile made
                        # its own, current body.
                        f"UPDATE {table.sql} SET body = $3::jsonb "
                        "WHERE collection = $1 AND id = $2 AND doc = $4",
                        row["collection"],
                        row["id"],
                        source,
                        row["doc"],
                    )
            try:
                async with connection.transaction():  # a savepoint: the casts stay
                    # A literal: COMMENT takes no parameters (MARK holds no quote).
                    await connection.execute(f"COMMENT ON TABLE {table.sql} IS '{MARK}'")
            except asyncpg.InsufficientPrivilegeError:
                # Only the table's owner may comment on it: the check then runs at each
                # open (a scan of the rows' text), which is slower but as correct.
                logger.warning(
                    "postgres: cannot mark table %s as upgraded (not its owner); asyncdb "
                    "checks its rows again at each start",
                    table.name,
                )
        if rows:
            logger.info(
                "postgres: cast the query forms of %d rows of %s again (once)",
                len(rows),
                table.name,
            )

    return work
