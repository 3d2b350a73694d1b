"""One table per collection, and the SQL text that names it.

A collection ``agents`` is the table ``"asyncdb:agents"``: the ``asyncdb:`` prefix cannot
occur in a collection name (``^[a-z][a-z0-9_-]*$``), so asyncdb's tables never collide with
a table of another program in the same file nor with SQLite's reserved ``sqlite_`` names,
and ``list_collections`` finds them by prefix.

A table per collection (rather than one table keyed by collection) keeps each collection's
primary key, scans and expression indexes its own: ``drop_collection`` is one ``DROP
TABLE``, and an ``ensure_index`` on one collection never indexes another's rows.

The table is ``STRICT`` (SQLite 3.37+: every column holds only its declared type) and its
``CHECK`` refuses a body that is not JSON text, so even another program's rows keep
``find``'s JSON functions from failing on a malformed body.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "TABLE_PREFIX",
    "collection_of",
    "create_table",
    "plain_field",
    "quoted",
    "table",
]

TABLE_PREFIX: Final = "asyncdb:"


def quoted(identifier: str) -> str:
    """``identifier`` as an SQL identifier (double quotes, inner ones doubled)."""
    return '"' + identifier.replace('"', '""') + '"'


def table(collection: str) -> str:
    """The quoted table name of ``collection``."""
    return quoted(TABLE_PREFIX + collection)


def collection_of(table_name: str) -> str | None:
    """The collection a table of this file holds, ``None`` for another program's table."""
    if table_name.startswith(TABLE_PREFIX) and len(table_name) > len(TABLE_PREFIX):
        return table_name[len(TABLE_PREFIX) :]
    return None


def create_table(collection: str) -> str:
    return (
        f"CREATE TABLE IF NOT EXISTS {table(collection)} ("
        "id TEXT PRIMARY KEY NOT NULL, "
        "rev TEXT NOT NULL, "
        "body TEXT NOT NULL CHECK (json_valid(body))"
        ") STRICT"
    )


def plain_field(name: str) -> bool:
    """Whether SQLite's JSON path ``$."name"`` reaches the top-level key ``name``.

    SQLite's path syntax has no escape for ``"`` inside a quoted label, and it compares a
    label with the key as written in the JSON text, where ``\\`` and control characters
    are escaped. Another name is reached through ``json_each`` (``_sql``), never dropped.
    """
    return not any(char in '"\\' or char < " " for char in name)
