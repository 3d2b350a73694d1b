"""``PostgresDriver``: asyncdb over PostgreSQL, natively async via asyncpg and its pool.

How the contract maps (details in docs/providers/postgres.md):
- every collection lives in one table keyed by ``(collection, id)`` (``_tables``), created
  at start-up when missing; ids are ``COLLATE "C"``, so scans go in code-point order;
- each row keeps the document's exact JSON text (what reads return: key order, ``1.0``)
  beside its JSONB form (what ``find`` and indexes use) (``_codec``);
- revisions are ``<generation>-<token>``; every write, conditional or not, is one
  statement (``UPDATE ... WHERE rev IN (...)``, ``INSERT ... ON CONFLICT``), and an attempt
  that may have landed is recognised by its token (``_records``);
- bulk calls are one statement per chunk (``_bulk``), ``find`` a JSONB query (``_query``);
- ``patch`` is one transaction: the row read ``FOR UPDATE``, changed, written (``_patch``).
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

from asyncdb._retry import Attempts
from asyncdb.drivers.base import Body, DriverLimits, Record, ScanPage
from asyncdb.drivers.postgres import _codec, _ids
from asyncdb.drivers.postgres._patch import PatchOps
from asyncdb.drivers.postgres._query import FindOps
from asyncdb.drivers.postgres._records import next_rev, record_of
from asyncdb.drivers.postgres._tables import DEFAULT_TABLE, Table
from asyncdb.drivers.postgres._transport import Transport
from asyncdb.drivers.postgres.settings import PostgresSettings
from asyncdb.errors import BackendError, ConfigurationError

if TYPE_CHECKING:
    from typing import Self

    import asyncpg

    from asyncdb._settings import Settings

__all__ = ["PostgresDriver"]


class PostgresDriver(PatchOps, FindOps):
    """Documents in one PostgreSQL table (``table``, default ``asyncdb_documents``).

    ``dsn`` is ``postgresql://user:password@host:port/database`` (asyncpg's DSN: libpq
    parameters such as ``sslmode`` included). ``pool_size`` bounds the connections;
    ``request_timeout`` bounds each statement, ``connect_timeout`` each new connection.

    ``client`` is an ``asyncpg.Pool`` you created: every statement then goes through it
    (``dsn`` may be left out; ``pool_size`` and the timeouts describe the driver's own pool
    only). The ownership rule: what the library did not open, it does not close.
    ``aclose()`` closes the pool the driver created and never yours; closing it is yours
    to do, after the driver's last call.
    """

    name = "postgres"
    settings_class = PostgresSettings
    # Arrays travel as one parameter each, so a chunk is bounded by its size, not by the
    # protocol's 32,767 parameters. No document size limit of the driver's own: a field
    # holds up to 1 GB (native_document_bytes stays None); the face's cap applies under
    # DATABASE_SIZE_LIMIT=native.
    limits = DriverLimits(max_get_batch=500, max_write_batch=500, max_concurrency=8)

    def __init__(
        self,
        dsn: str | None = None,
        *,
        table: str = DEFAULT_TABLE,
        pool_size: int = 16,
        request_timeout: float = 30.0,
        connect_timeout: float = 10.0,
        max_retries: int = 4,
        find_page_size: int = 1000,
        client: asyncpg.Pool | None = None,
    ) -> None:
        if pool_size < 1:
            raise ConfigurationError("pool_size must be at least 1")
        if find_page_size < 1:
            raise ConfigurationError("find_page_size must be at least 1")
        self._table = Table.parse(table)
        self._transport = Transport(
            dsn,
            table=self._table,
            pool_size=pool_size,
            request_timeout=request_timeout,
            connect_timeout=min(connect_timeout, request_timeout),
            max_retries=max_retries,
            client=client,
        )
        self._find_page_size = find_page_size

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        """Build from ``POSTGRES_URL`` (or ``DATABASE_URL=postgresql://...``, required),
        ``POSTGRES_TABLE``, ``DATABASE_REQUEST_TIMEOUT`` and ``DATABASE_MAX_RETRIES``."""
        own = PostgresSettings.of(settings)
        if own.postgres_url is None:
            raise ConfigurationError(
                "POSTGRES_URL is not set (e.g. postgresql://user:password@127.0.0.1:5432/db)"
            )
        return cls(
            own.postgres_url.get_secret_value(),
            table=own.postgres_table,
            request_timeout=settings.request_timeout,
            connect_timeout=min(10.0, settings.request_timeout),
            max_retries=settings.max_retries,
        )

    def describe(self) -> str:
        address = self._transport.address
        user = f" as {address.user!r}" if address.user is not None else ""
        return f"postgres {address.shown}{user}, table {self._table.name}"

    # -- lifecycle -------------------------------------------------------------------------
    async def open(self) -> None:
        """Connect and check the table: a wrong password (``AuthenticationError``), an
        unknown database (``ConfigurationError``) or an unreachable server
        (``BackendUnavailableError``) is reported here, at start-up."""
        await self._transport.ready()

    async def aclose(self) -> None:
        await self._transport.aclose()

    async def ping(self) -> None:
        async def work(connection: asyncpg.Connection) -> None:
            await connection.fetchval("SELECT 1")

        await self._transport.run(work, "answer a ping")

    # -- the four core operations ----------------------------------------------------------
    async def get(self, collection: str, doc_id: str) -> Record | None:
        key = _ids.encode(doc_id)
        sql = self._table.get

        async def work(connection: asyncpg.Connection) -> Any:
            return await connection.fetchrow(sql, collection, key)

        row = await self._transport.run(work, f"read a document of {collection!r}")
        if row is None:
            return None
        record = record_of(collection, key, row[0], row[1], row[2])
        if record is None or record.id != doc_id:
            # Saying "not found" would invite a create that then conflicts with the row.
            raise BackendError(
                f"the PostgreSQL row of {doc_id!r} in {collection!r} is not an asyncdb "
                "document (written by another program?); listings skip it"
            )
        return record

    async def put(
        self,
        collection: str,
        doc_id: str,
        body: Body,
        *,
        if_rev: str | None = None,
        if_absent: bool = False,
    ) -> str:
        key = _ids.encode(doc_id)
        full_id = _ids.full_id_of(doc_id, key)
        doc, jb = _codec.encode(body)
        token = secrets.token_hex(8)
        table = self._table
        attempts = Attempts()
        args: tuple[Any, ...]
        if if_rev is not None:
            new = next_rev(if_rev, token)
            sql, args = table.put_if_rev, (collection, key, new, doc, jb, full_id, if_rev)
        elif if_absent:
            new = f"1-{token}"
            sql, args = table.put_if_absent, (collection, key, new, doc, jb, full_id)
        else:
            new = token
            sql, args = table.put_any, (collection, key, token, doc, jb, full_id)
        checking = False

        async def work(connection: asyncpg.Connection) -> Any:
            nonlocal checking
            if attempts.ambiguous and if_rev is None:
                # An earlier attempt may have landed: an unconditional write or a create is
                # not sent again (it could apply twice over another writer's write); only
                # checked. A conditional one is re-sent: its condition admits only the
                # revision it expected or its own new one (see put_if_rev).
                checking = True
                return await connection.fetchval(table.current_rev, collection, key)
            checking = False
            return await connection.fetchval(sql, *args)

        rev = await self._transport.run(
            work, f"write a document of {collection!r}", attempts=attempts
        )
        if checking:
            landed = rev is not None and (rev == new if if_absent else rev.endswith("-" + token))
            if landed:
                return str(rev)
            raise self._unknown(collection, doc_id)
        if rev is not None:
            return str(rev)
        if attempts.ambiguous:
            raise self._unknown(collection, doc_id)
        if if_rev is not None:
            raise self._stale(collection, doc_id)
        raise self._exists(collection, doc_id)

    async def delete(self, collection: str, doc_id: str, *, if_rev: str | None = None) -> bool:
        key = _ids.encode(doc_id)
        table = self._table
        attempts = Attempts()
        if if_rev is None:

            async def remove(connection: asyncpg.Connection) -> Any:
                return await connection.fetchval(table.delete_any, collection, key)

            gone = await self._transport.run(
                remove, f"delete a document of {collection!r}", attempts=attempts
            )
            # After a lost answer the re-sent delete finds nothing: the first one did it.
            return gone is not None or attempts.ambiguous

        async def remove_if(connection: asyncpg.Connection) -> Any:
            return await connection.fetchrow(table.delete_if_rev, collection, key, if_rev)

        row = await self._transport.run(
            remove_if, f"delete a document of {collection!r}", attempts=attempts
        )
        deleted, current = row[0], row[1]
        if deleted:
            return True
        if current is None:
            # Missing; after a lost answer most likely deleted by that very attempt.
            return bool(attempts.ambiguous)
        if attempts.ambiguous:
            # The lost attempt may have deleted it and another writer re-created it since.
            raise self._unknown(collection, doc_id)
        raise self._stale(collection, doc_id)

    async def scan(self, collection: str, *, after: str | None, limit: int) -> ScanPage:
        start = "" if after is None else _ids.encode(after)
        sql = self._table.scan

        async def work(connection: asyncpg.Connection) -> list[Any]:
            # One row more than the page says whether another page follows.
            return list(await connection.fetch(sql, collection, start, limit + 1))

        rows = await self._transport.run(work, f"list documents of {collection!r}")
        more = len(rows) > limit
        records: list[Record] = []
        for key, rev, text, full_id in rows[:limit]:
            record = record_of(collection, key, rev, text, full_id)
            if record is not None:
                records.append(record)
        if not more:
            return ScanPage(records, None)
        # Resume after the page's last row, even a skipped one: its caller id is its key
        # unless it is a digest (then its full_id, or the next page starts at the key).
        last_key, last_full = rows[limit - 1][0], rows[limit - 1][3]
        resume = _ids.decode(last_key, last_full) or last_key
        return ScanPage(records, resume)

    # -- collections -----------------------------------------------------------------------
    async def list_collections(self) -> list[str]:
        sql = self._table.list_collections

        async def work(connection: asyncpg.Connection) -> list[Any]:
            return list(await connection.fetch(sql))

        rows = await self._transport.run(work, "list the collections")
        return [str(row[0]) for row in rows]

    async def drop_collection(self, collection: str) -> None:
        sql = self._table.drop_collection

        async def work(connection: asyncpg.Connection) -> None:
            await connection.execute(sql, collection)

        # Deleting what is already deleted changes nothing: a re-sent attempt is harmless.
        await self._transport.run(work, f"drop collection {collection!r}")
