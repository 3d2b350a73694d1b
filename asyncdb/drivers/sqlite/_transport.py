"""The connection to the database file: opened on first use, configured (WAL journal, busy
timeout, synchronous commits), shared by every call of the driver, and the one place where
statements reach SQLite — each retried under the one policy (``asyncdb.drivers._retried``)
with ``_errors.classify``.

One connection is enough: a driver is used on one event loop, and aiosqlite runs every
statement of a connection on its own thread, one after the other, in the order they were
submitted. A single statement is atomic by itself (SQLite runs it as its own transaction
in autocommit mode). A multi-statement transaction (``transaction``: ``save_many`` and
``delete_many``) holds ``_lock`` from ``BEGIN`` to ``COMMIT``; a single statement that
finds the lock held waits for it, so that no other task's statement runs inside the
transaction (it would see uncommitted rows, or be rolled back with them). A statement that
finds the lock free is submitted at once, without yielding to the loop, so it is queued
before any ``BEGIN`` submitted later.

Ownership: with ``client=`` (an open ``aiosqlite.Connection``, in autocommit mode) the
driver uses that connection and never closes it; what the library did not open, it does
not close.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, Final, TypeVar, cast

import aiosqlite

from asyncdb._retry import Attempts, RetryPolicy, retrying
from asyncdb.drivers._once import OpenedOnce
from asyncdb.drivers._retried import Retrier
from asyncdb.drivers.sqlite import _tables
from asyncdb.drivers.sqlite._errors import classify, is_missing_table, translate
from asyncdb.drivers.sqlite.settings import check_database_path
from asyncdb.errors import BackendError, ConfigurationError

__all__ = ["MIN_SQLITE_VERSION", "MissingTable", "Row", "Statement", "Transport"]

logger = logging.getLogger("asyncdb")

Row = Any  # an sqlite3 row: a tuple of column values
#: Runs one statement inside a transaction and returns its rows.
Statement = Callable[[str, Sequence[Any]], Awaitable[list[Row]]]
T = TypeVar("T")

#: JSON functions built in (3.38), RETURNING (3.35), STRICT tables (3.37), UPDATE FROM (3.33).
MIN_SQLITE_VERSION: Final = (3, 38, 0)
_BACKOFF_BASE: Final = 0.05
_BACKOFF_CAP: Final = 2.0


class MissingTable(BackendError):
    """The collection's table does not exist: a read answers "nothing", a write creates it.
    Should it escape (the table dropped again by another process between its creation and
    the write), it is a plain ``BackendError`` saying so."""


class Transport:
    """Runs statements on one connection to ``path`` (or on the caller's ``client``)."""

    def __init__(
        self,
        path: str,
        *,
        busy_timeout: float,
        synchronous: str,
        max_retries: int,
        client: aiosqlite.Connection | None = None,
    ) -> None:
        self.path = Path(path).expanduser().absolute()
        self._busy_timeout = busy_timeout
        self._synchronous = synchronous.upper()
        self.policy = RetryPolicy(
            max_retries=max_retries, base_delay=_BACKOFF_BASE, max_delay=_BACKOFF_CAP
        )
        self._retrier = Retrier(self.policy, classify)
        self._client = client
        #: The transport's own connection, opened by the first caller while the others wait.
        self._own: OpenedOnce[aiosqlite.Connection] = OpenedOnce()
        self._lock = asyncio.Lock()

    @property
    def where(self) -> str:
        return f"SQLite {self.path}" if self._client is None else "SQLite (client connection)"

    # -- lifecycle ---------------------------------------------------------------------------
    async def connection(self) -> aiosqlite.Connection:
        """The connection statements go through: the caller's, or this transport's own,
        opened and configured on first use."""
        if self._client is not None:
            return self._checked_client(self._client)
        # Once open this returns without yielding to the loop (see ``rows``).
        return await self._own.get(self._open)

    def _checked_client(self, client: aiosqlite.Connection) -> aiosqlite.Connection:
        try:
            autocommit = client.isolation_level is None
        except ValueError:  # aiosqlite: "no active connection"
            raise ConfigurationError(
                "the aiosqlite connection given to the SQLite driver as client= is closed "
                "or was never awaited"
            ) from None
        if not autocommit:
            # In sqlite3's legacy mode a write opens a transaction that stays open until
            # commit(): the driver would acknowledge writes that are not committed.
            raise ConfigurationError(
                "the aiosqlite connection given as client= must be in autocommit mode: "
                "open it with aiosqlite.connect(path, isolation_level=None)"
            )
        return client

    async def _open(self) -> aiosqlite.Connection:
        if sqlite3.sqlite_version_info < MIN_SQLITE_VERSION:
            raise ConfigurationError(
                f"the SQLite provider needs SQLite {'.'.join(map(str, MIN_SQLITE_VERSION))} "
                f"or newer; this Python has {sqlite3.sqlite_version}"
            )
        shown = f"SQLITE_PATH={str(self.path)!r}"
        check_database_path(self.path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigurationError(
                f"{shown}: its folder cannot be created ({exc.strerror or type(exc).__name__})"
            ) from exc
        connection = aiosqlite.connect(self.path, isolation_level=None, timeout=self._busy_timeout)
        try:
            await connection
            await retrying(
                lambda: self._configure(connection),
                classify=classify,
                policy=self.policy,
                what=f"{self.where} configure",
            )
        except sqlite3.Error as exc:
            await _close_quietly(connection)
            raise translate(exc, f"{shown}: opening", writing=False) from exc
        except BaseException:
            await _close_quietly(connection)
            raise
        logger.debug("opened %s (WAL, synchronous=%s)", self.where, self._synchronous)
        return connection

    async def _configure(self, connection: aiosqlite.Connection) -> None:
        # journal_mode reads the file header first: a file that is not a database fails
        # here (SQLITE_NOTADB), before any document operation.
        mode = await connection.execute_fetchall("PRAGMA journal_mode=WAL")
        if str(next(iter(mode), ("",))[0]).lower() != "wal":
            logger.warning(
                "%s: SQLite did not switch to the WAL journal (%s); several processes on "
                "this file will wait for each other more",
                self.where,
                list(mode),
            )
        await connection.execute(f"PRAGMA synchronous={self._synchronous}")
        await connection.execute(f"PRAGMA busy_timeout={int(self._busy_timeout * 1000)}")

    async def aclose(self) -> None:
        """Close the transport's own connection; a caller's (``client=``) stays open."""
        await self._own.close(aiosqlite.Connection.close)

    # -- statements --------------------------------------------------------------------------
    async def rows(
        self,
        sql: str,
        params: Sequence[Any] = (),
        *,
        what: str,
        writing: bool = False,
        attempts: Attempts | None = None,
    ) -> list[Row]:
        """The rows of one statement (atomic by itself). ``MissingTable`` when it names a
        collection's table that does not exist; other failures as asyncdb errors."""
        connection = await self.connection()

        async def attempt() -> list[Row]:
            if self._lock.locked():  # a transaction is open: never run inside it
                async with self._lock:
                    return cast(list[Row], await connection.execute_fetchall(sql, params))
            # sqlite3's fetchall answers a list (aiosqlite types it as an iterable).
            return cast(list[Row], await connection.execute_fetchall(sql, params))

        return await self._retried(attempt, what=what, writing=writing, attempts=attempts)

    async def transaction(self, work: Callable[[Statement], Awaitable[T]], *, what: str) -> T:
        """Run ``work`` in one transaction and return what it returns. ``work`` runs its
        statements through the ``Statement`` it is given. ``BEGIN IMMEDIATE`` takes the
        write lock first, so the transaction never fails half-way on another connection's
        lock and what ``work`` reads stays true until ``COMMIT``. Retried as a whole while
        the file is busy; on any failure everything is rolled back."""
        connection = await self.connection()

        async def statement(sql: str, params: Sequence[Any] = ()) -> list[Row]:
            return list(await connection.execute_fetchall(sql, params))

        async def attempt() -> T:
            async with self._lock:
                await connection.execute("BEGIN IMMEDIATE")
                try:
                    result = await work(statement)
                    await connection.execute("COMMIT")
                except BaseException:
                    await _rollback(connection)
                    raise
                return result

        return await self._retried(attempt, what=what, writing=True, attempts=Attempts())

    async def ensure_table(self, collection: str) -> None:
        """Create the collection's table (and nothing else) if it is missing."""
        await self.rows(_tables.create_table(collection), what="creating a table", writing=True)

    async def _retried(
        self,
        attempt: Callable[[], Awaitable[T]],
        *,
        what: str,
        writing: bool,
        attempts: Attempts | None,
    ) -> T:
        def failed(exc: Exception) -> None:
            if isinstance(exc, sqlite3.Error) and is_missing_table(exc):
                raise MissingTable(
                    f"{self.where}: {what}: the collection's table does not exist ({exc}); "
                    "another connection may have dropped it meanwhile"
                ) from exc
            # ValueError: aiosqlite's, when the connection was closed under the call.
            if isinstance(exc, sqlite3.Error | ValueError):
                raise translate(exc, f"{self.where}: {what}", writing=writing) from exc

        return await self._retrier.run(
            attempt, what=f"{self.where} {what}", final=failed, attempts=attempts
        )


async def _rollback(connection: aiosqlite.Connection) -> None:
    # An error that ends the transaction has rolled it back already: nothing to undo.
    with contextlib.suppress(sqlite3.Error):
        await connection.execute("ROLLBACK")


async def _close_quietly(connection: aiosqlite.Connection) -> None:
    with contextlib.suppress(sqlite3.Error, ValueError):
        await connection.close()
