"""``SQLiteDriver``: asyncdb in one SQLite file, on aiosqlite.

How the contract maps (details in docs/providers/sqlite.md):
- a collection is a table ``"asyncdb:<collection>"`` (``_tables``), created by the first
  write that finds it missing; a document is a row ``(id, rev, body)``, the body the
  compact JSON text of the document as the face handed it over (``_codec``);
- a revision is ``<generation>-<random>``; every write is one statement whose condition
  SQLite checks as it writes (``UPDATE ... WHERE id = ? AND rev = ?``, ``INSERT ... ON
  CONFLICT DO NOTHING``), and ``RETURNING`` says whether it wrote; a ``patch`` is one
  ``BEGIN IMMEDIATE`` transaction (read, change, write);
- scans page by id (``WHERE id > ? ORDER BY id LIMIT ?``), never by offset;
- ``find`` runs SQLite's JSON functions in SQL and ``ensure_index`` creates expression
  indexes on them (``_query``); bulk writes are one transaction per chunk (``_bulk``).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Final

from asyncdb.drivers.base import Body, Change, DriverLimits, Record, ScanPage
from asyncdb.drivers.sqlite import _ids
from asyncdb.drivers.sqlite._bulk import BulkOps
from asyncdb.drivers.sqlite._codec import FIRST_GENERATION, dumps, record, token
from asyncdb.drivers.sqlite._query import FindOps
from asyncdb.drivers.sqlite._tables import TABLE_PREFIX, collection_of, table
from asyncdb.drivers.sqlite._transport import MissingTable, Statement, Transport
from asyncdb.drivers.sqlite.settings import DEFAULT_SQLITE_PATH, SQLiteSettings
from asyncdb.errors import BackendError, ConfigurationError, ConflictError, NotFoundError

if TYPE_CHECKING:
    from typing import Self

    import aiosqlite

    from asyncdb._settings import Settings

__all__ = ["SQLiteDriver"]

logger = logging.getLogger("asyncdb")

_SYNCHRONOUS: Final = ("full", "normal")

# The next revision of a stored row: its generation plus one, and a fresh random part.
_NEXT_REV: Final = "(CAST(rev AS INTEGER) + 1) || '-' || ?"


class SQLiteDriver(BulkOps, FindOps):
    """Documents in one SQLite file, a table per collection.

    ``path`` is the database file (created, with its folder, when missing). The journal is
    WAL, so readers never wait for the writer and several processes can share the file;
    ``busy_timeout`` is how many seconds a statement waits for another connection's write
    lock before it counts as failed (and is retried, ``max_retries`` times);
    ``synchronous`` is ``"full"`` (an acknowledged write survives a power loss) or
    ``"normal"`` (it survives a crash of the process).

    ``client`` is an ``aiosqlite.Connection`` you opened (and awaited), in autocommit mode
    (``isolation_level=None``): every statement then goes through it, and ``path``,
    ``busy_timeout`` and ``synchronous`` describe only the driver's own connection, so
    configure yours (WAL, a busy timeout) yourself. The ownership rule: what the library
    did not open, it does not close. ``aclose()`` closes the connection the driver opened
    itself and never yours; it stays open and usable, and closing it is yours to do.
    """

    name = "sqlite"
    settings_class = SQLiteSettings
    # SQLite's own ceiling for a value (SQLITE_MAX_LENGTH, 1e9 bytes) is above the face's
    # cap of 16 MiB, which then applies under DATABASE_SIZE_LIMIT=native.
    limits = DriverLimits(
        max_get_batch=100,
        max_write_batch=100,
        max_concurrency=1,  # one connection: chunks run one after the other anyway
        scan_page_size=1000,
        native_document_bytes=None,
    )

    def __init__(
        self,
        path: str = DEFAULT_SQLITE_PATH,
        *,
        busy_timeout: float = 5.0,
        synchronous: str = "full",
        max_retries: int = 4,
        find_page_size: int = 1000,
        client: aiosqlite.Connection | None = None,
    ) -> None:
        if synchronous not in _SYNCHRONOUS:
            raise ConfigurationError(
                f"synchronous must be one of {', '.join(_SYNCHRONOUS)}, not {synchronous!r}"
            )
        if busy_timeout <= 0:
            raise ConfigurationError("busy_timeout must be a positive number of seconds")
        if find_page_size < 1:
            raise ConfigurationError("find_page_size must be at least 1")
        self._transport = Transport(
            path,
            busy_timeout=busy_timeout,
            synchronous=synchronous,
            max_retries=max_retries,
            client=client,
        )
        self._find_page_size = find_page_size

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        """Build from ``SQLITE_PATH`` (default ``asyncdb.sqlite3`` in the working
        directory), ``SQLITE_BUSY_TIMEOUT``, ``SQLITE_SYNCHRONOUS`` and
        ``DATABASE_MAX_RETRIES``."""
        own = SQLiteSettings.of(settings)
        return cls(
            own.sqlite_path,
            busy_timeout=own.sqlite_busy_timeout,
            synchronous=own.sqlite_synchronous,
            max_retries=settings.max_retries,
        )

    @property
    def path(self) -> str:
        """The absolute path of the database file."""
        return str(self._transport.path)

    def describe(self) -> str:
        return f"sqlite {self._transport.where.removeprefix('SQLite ')}"

    # -- lifecycle -------------------------------------------------------------------------
    async def open(self) -> None:
        await self._transport.connection()

    async def aclose(self) -> None:
        await self._transport.aclose()

    async def ping(self) -> None:
        await self._transport.rows("SELECT 1", what="ping")

    # -- the four core operations ------------------------------------------------------------
    async def get(self, collection: str, doc_id: str) -> Record | None:
        sql = f"SELECT id, rev, body FROM {table(collection)} WHERE id = ?"  # noqa: S608 - quoted names, values bound
        try:
            rows = await self._transport.rows(sql, (_ids.encode(doc_id),), what="get")
        except MissingTable:
            return None
        if not rows:
            return None
        key, rev, text = rows[0]
        found, reason = record(key, rev, text, asked=doc_id)
        if found is None:
            raise self._unreadable(collection, doc_id, reason)
        return found

    async def put(
        self,
        collection: str,
        doc_id: str,
        body: Body,
        *,
        if_rev: str | None = None,
        if_absent: bool = False,
    ) -> str:
        key, text, fresh = _ids.encode(doc_id), dumps(body), token()
        name = table(collection)
        if if_rev is not None:
            sql = (
                f"UPDATE {name} SET rev = {_NEXT_REV}, body = ? "  # noqa: S608 - quoted names, values bound
                "WHERE id = ? AND rev = ? RETURNING rev"
            )
            params: tuple[str, ...] = (fresh, text, key, if_rev)
        elif if_absent:
            sql = (
                f"INSERT INTO {name} (id, rev, body) VALUES (?, ?, ?) "  # noqa: S608 - quoted names, values bound
                "ON CONFLICT (id) DO NOTHING RETURNING rev"
            )
            params = (key, FIRST_GENERATION + fresh, text)
        else:
            sql = (
                f"INSERT INTO {name} (id, rev, body) VALUES (?1, '{FIRST_GENERATION}' || ?2, ?3) "  # noqa: S608 - quoted names, values bound
                "ON CONFLICT (id) DO UPDATE SET "
                "rev = (CAST(rev AS INTEGER) + 1) || '-' || ?2, body = excluded.body "
                "RETURNING rev"
            )
            params = (key, fresh, text)
        try:
            rows = await self._transport.rows(sql, params, what="put", writing=True)
        except MissingTable:
            if if_rev is not None:  # no table, no document: the revision is stale
                raise self._stale(collection, doc_id) from None
            await self._transport.ensure_table(collection)
            rows = await self._transport.rows(sql, params, what="put", writing=True)
        if rows:
            rev: str = rows[0][0]
            return rev
        if if_absent:
            raise ConflictError(f"document {doc_id!r} already exists in {collection!r}")
        raise self._stale(collection, doc_id)

    async def patch(
        self, collection: str, doc_id: str, change: Change, *, if_rev: str | None = None
    ) -> Record:
        # One BEGIN IMMEDIATE transaction: it holds the file's write lock from the read to
        # the commit, so no writer (of this process or another) comes in between and no
        # patch is retried for a lost race. Retried as a whole only while the file is busy
        # (rolled back, so nothing was applied); a failed commit whose outcome is unknown is
        # WriteOutcomeUnknownError (_errors.translate), never a second application.
        name, key, fresh = table(collection), _ids.encode(doc_id), token()

        async def work(statement: Statement) -> Record:
            sql = f"SELECT id, rev, body FROM {name} WHERE id = ?"  # noqa: S608 - quoted names, values bound
            rows = await statement(sql, (key,))
            if not rows:
                raise NotFoundError(collection, doc_id)
            found, reason = record(*rows[0], asked=doc_id)
            if found is None:
                raise self._unreadable(collection, doc_id, reason)
            if if_rev is not None and found.rev != if_rev:
                raise self._stale(collection, doc_id)
            body = change(found.body)  # raises before anything is written
            sql = f"UPDATE {name} SET rev = {_NEXT_REV}, body = ? WHERE id = ? RETURNING rev"  # noqa: S608 - quoted names, values bound
            written = await statement(sql, (fresh, dumps(body), key))
            return Record(doc_id, written[0][0], body)

        try:
            return await self._transport.transaction(work, what="patch")
        except MissingTable:
            raise NotFoundError(collection, doc_id) from None

    def _unreadable(self, collection: str, doc_id: str, reason: str) -> BackendError:
        return BackendError(
            f"{self._transport.where}: document {doc_id!r} in {collection!r} cannot be "
            f"read: {reason} (it was not written by asyncdb)"
        )

    async def delete(self, collection: str, doc_id: str, *, if_rev: str | None = None) -> bool:
        name, key = table(collection), _ids.encode(doc_id)
        try:
            if if_rev is None:
                sql = f"DELETE FROM {name} WHERE id = ? RETURNING 1"  # noqa: S608 - quoted names, values bound
                rows = await self._transport.rows(sql, (key,), what="delete", writing=True)
                return bool(rows)
            sql = f"DELETE FROM {name} WHERE id = ? AND rev = ? RETURNING 1"  # noqa: S608 - quoted names, values bound
            if await self._transport.rows(sql, (key, if_rev), what="delete", writing=True):
                return True
            # Not deleted: gone (not an error) or another revision (a conflict). Either
            # answer is true at the moment of this read.
            sql = f"SELECT 1 FROM {name} WHERE id = ?"  # noqa: S608 - quoted names, values bound
            if await self._transport.rows(sql, (key,), what="delete"):
                raise self._stale(collection, doc_id)
            return False
        except MissingTable:
            return False

    async def scan(self, collection: str, *, after: str | None, limit: int) -> ScanPage:
        name = table(collection)
        # One row more than asked tells whether another page follows.
        if after is None:
            sql = f"SELECT id, rev, body FROM {name} ORDER BY id LIMIT ?"  # noqa: S608 - quoted names, values bound
            params: list[str | int] = [limit + 1]
        else:
            sql = f"SELECT id, rev, body FROM {name} WHERE id > ? ORDER BY id LIMIT ?"  # noqa: S608 - quoted names, values bound
            params = [_ids.encode(after), limit + 1]
        try:
            rows = await self._transport.rows(sql, params, what="scan")
        except MissingTable:
            return ScanPage([], None)
        page = rows[:limit]
        records = self._readable(collection, page)
        last_key = _ids.decode(page[-1][0]) if len(rows) > limit else None
        return ScanPage(records, last_key)

    # -- collections -----------------------------------------------------------------------
    async def list_collections(self) -> list[str]:
        sql = "SELECT name FROM sqlite_master WHERE type = 'table' AND substr(name, 1, ?) = ?"
        rows = await self._transport.rows(sql, (len(TABLE_PREFIX), TABLE_PREFIX), what="list")
        names = (collection_of(row[0]) for row in rows)
        return sorted(name for name in names if name is not None)

    async def drop_collection(self, collection: str) -> None:
        sql = f"DROP TABLE IF EXISTS {table(collection)}"
        await self._transport.rows(sql, what="drop_collection", writing=True)
