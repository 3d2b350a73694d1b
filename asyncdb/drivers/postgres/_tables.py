"""The one table that holds every collection, and the statements the driver sends.

One table keyed by ``(collection, id)`` rather than a table per collection: a collection
then needs no DDL (created by its first write, in the same statement), its name needs no
mapping to PostgreSQL's 63-byte identifiers (a prefixed name may have 129 characters), a
scan of one collection is a range of the primary key, and ``ensure_index`` builds one index
that serves every collection. ``drop_collection`` is a ``DELETE`` rather than a ``DROP``.

``collection`` and ``id`` are ``COLLATE "C"``: in a UTF-8 database that compares by bytes,
which is code-point order, the order of Python's ``str`` (memory driver) and of the
face's pagination, whatever the database's default collation.
"""

# ruff: noqa: S608 - statements are built from the table name, checked by Table.parse
# against ^[a-z_][a-z0-9_]*$, and from field names written as escaped literals; every
# value travels as a parameter.
from __future__ import annotations

import hashlib
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final

import asyncpg

from asyncdb.errors import ConfigurationError

__all__ = ["Table", "ensure_schema_work"]

_NAME: Final = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
DEFAULT_TABLE: Final = "asyncdb_documents"
#: The generation of a stored revision plus one (revisions are ``<generation>-<token>``);
#: a revision that another program wrote in another form starts again at 1.
_NEXT_GEN: Final = (
    "(CASE WHEN d.rev ~ '^[0-9]{1,18}-' "
    "THEN split_part(d.rev, '-', 1)::bigint + 1 ELSE 1 END)::text"
)
#: ``body``: cast by the server from the text sent once, or from its escaped form.
_BODY: Final = "coalesce($5::text, $4::text)::jsonb"


def _quote(name: str) -> str:
    return '"' + name + '"'


@dataclass(frozen=True)
class Table:
    """The table's name (``table`` or ``schema.table``) and its statements."""

    name: str

    @classmethod
    def parse(cls, name: str) -> Table:
        parts = name.split(".")
        if len(parts) > 2 or not all(_NAME.match(part) for part in parts):
            raise ConfigurationError(
                f"the PostgreSQL table must be 'table' or 'schema.table' of lower-case "
                f"letters, digits and '_' (at most 63 each), got {name!r}"
            )
        return cls(name)

    @property
    def sql(self) -> str:
        return ".".join(_quote(part) for part in self.name.split("."))

    @property
    def lock_key(self) -> int:
        """The advisory lock taken while the table or an index is created."""
        digest = hashlib.sha256(f"asyncdb:{self.name}".encode()).digest()
        return int.from_bytes(digest[:8], "big", signed=True)

    def index_name(self, field: str) -> str:
        """The name of the index on one field (names are unique per schema)."""
        digest = hashlib.sha256(f"{self.name}\x00{field}".encode()).hexdigest()[:24]
        return f"asyncdb_ix_{digest}"

    def qualified_index(self, field: str) -> str:
        schema = self.name.split(".")[0] + "." if "." in self.name else ""
        return schema + self.index_name(field)

    # -- DDL -------------------------------------------------------------------------------
    @property
    def create(self) -> str:
        return (
            f"CREATE TABLE IF NOT EXISTS {self.sql} ("
            ' collection text COLLATE "C" NOT NULL,'
            ' id text COLLATE "C" NOT NULL,'
            " rev text NOT NULL DEFAULT ('1-' || replace(gen_random_uuid()::text, '-', '')),"
            " doc text,"
            " body jsonb NOT NULL,"
            " full_id text,"
            " PRIMARY KEY (collection, id))"
        )

    # -- single documents ------------------------------------------------------------------
    @property
    def get(self) -> str:
        return (
            f"SELECT rev, coalesce(doc, body::text), full_id FROM {self.sql} "
            "WHERE collection = $1 AND id = $2"
        )

    @property
    def get_for_update(self) -> str:
        # The row lock holds off every other write of the row until the transaction ends.
        return self.get + " FOR UPDATE"

    @property
    def current_rev(self) -> str:
        return f"SELECT rev FROM {self.sql} WHERE collection = $1 AND id = $2"

    @property
    def put_if_rev(self) -> str:
        # ``rev IN (expected, new)``: a re-sent attempt whose first try landed (its answer
        # lost) finds its own new revision and rewrites the same row: applied once.
        return (
            f"UPDATE {self.sql} AS d SET rev = $3, doc = $4, body = {_BODY}, full_id = $6 "
            "WHERE collection = $1 AND id = $2 AND rev IN ($7, $3) RETURNING rev"
        )

    @property
    def put_if_absent(self) -> str:
        return (
            f"INSERT INTO {self.sql} AS d (collection, id, rev, doc, body, full_id) "
            f"VALUES ($1, $2, $3, $4, {_BODY}, $6) "
            "ON CONFLICT (collection, id) DO NOTHING RETURNING rev"
        )

    @property
    def put_any(self) -> str:
        return (
            f"INSERT INTO {self.sql} AS d (collection, id, rev, doc, body, full_id) "
            f"VALUES ($1, $2, '1-' || $3, $4, {_BODY}, $6) "
            "ON CONFLICT (collection, id) DO UPDATE SET "
            f"rev = {_NEXT_GEN} || '-' || $3, doc = excluded.doc, body = excluded.body, "
            "full_id = excluded.full_id RETURNING rev"
        )

    @property
    def delete_if_rev(self) -> str:
        # The sub-select reads the snapshot from before the delete: the revision that was
        # there, so that a refusal tells "missing" from "stale" in this one statement.
        return (
            f"WITH gone AS (DELETE FROM {self.sql} WHERE collection = $1 AND id = $2 "
            "AND rev = $3 RETURNING 1) "
            "SELECT (SELECT count(*) FROM gone) AS deleted, "
            f"(SELECT rev FROM {self.sql} WHERE collection = $1 AND id = $2) AS current"
        )

    @property
    def delete_any(self) -> str:
        return f"DELETE FROM {self.sql} WHERE collection = $1 AND id = $2 RETURNING 1"

    # -- ranges and collections ------------------------------------------------------------
    @property
    def scan(self) -> str:
        return (
            f"SELECT id, rev, coalesce(doc, body::text), full_id FROM {self.sql} "
            "WHERE collection = $1 AND id > $2 ORDER BY id LIMIT $3"
        )

    @property
    def get_many(self) -> str:
        return (
            f"SELECT id, rev, coalesce(doc, body::text), full_id FROM {self.sql} "
            "WHERE collection = $1 AND id = ANY($2::text[])"
        )

    @property
    def list_collections(self) -> str:
        # A loose index scan over the primary key: one probe per collection, not a read
        # of every row.
        return (
            "WITH RECURSIVE c AS ("
            f"SELECT min(collection) AS n FROM {self.sql} "
            f"UNION ALL SELECT (SELECT min(collection) FROM {self.sql} WHERE collection > c.n) "
            "FROM c WHERE c.n IS NOT NULL) SELECT n FROM c WHERE n IS NOT NULL"
        )

    @property
    def drop_collection(self) -> str:
        return f"DELETE FROM {self.sql} WHERE collection = $1"


Work = Callable[[asyncpg.Connection], Awaitable[None]]


def ensure_schema_work(table: Table) -> Work:
    """The start-up check: a UTF-8 database, and the table (created when missing, under an
    advisory lock so that drivers starting together do not race on the DDL)."""

    async def work(connection: asyncpg.Connection) -> None:
        settings = connection.get_settings()
        encoding = str(getattr(settings, "server_encoding", "UTF8")).upper()
        if encoding not in ("UTF8", "UTF-8"):
            raise ConfigurationError(
                f"the PostgreSQL database's encoding is {encoding}; asyncdb needs UTF8 "
                "(ids and documents are unicode, and id order is UTF-8 byte order)"
            )
        if await connection.fetchval("SELECT to_regclass($1)", table.sql) is not None:
            return
        async with connection.transaction():
            await connection.execute("SELECT pg_advisory_xact_lock($1)", table.lock_key)
            await connection.execute(table.create)

    return work
