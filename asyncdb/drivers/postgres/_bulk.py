"""Bulk reads and writes: one statement per chunk, one outcome per document.

``put_many`` sends the chunk as arrays (``unnest``) to a single statement: an ``UPDATE`` of
the rows that exist (unconditionally, or on their expected revision), an ``INSERT ... ON
CONFLICT DO NOTHING`` of the rows that do not, and the revision each row had before, so
that every refusal is explained (stale, already there) without another round trip. Each
document keeps its own condition, so one stale revision fails only its own document.
"""

# ruff: noqa: S608 - statements are built from the table name, checked by Table.parse
# against ^[a-z_][a-z0-9_]*$, and from field names written as escaped literals; every
# value travels as a parameter.
from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from asyncdb._retry import Attempts, outcome_unknown
from asyncdb.drivers.base import DeleteRequest, Driver, Record, WriteOutcome, WriteRequest
from asyncdb.drivers.postgres import _codec, _ids
from asyncdb.drivers.postgres._records import next_rev, record_of
from asyncdb.errors import AsyncDBError, ConflictError

if TYPE_CHECKING:
    import asyncpg

    from asyncdb.drivers.postgres._tables import Table
    from asyncdb.drivers.postgres._transport import Transport

__all__ = ["BulkOps"]

logger = logging.getLogger("asyncdb")

ANY, IF_REV, IF_ABSENT, CHECK = 0, 1, 2, 3


def _put_many_sql(table: Table) -> str:
    t = table.sql
    return (
        "WITH i AS (SELECT * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], "
        "$6::text[], $7::int[], $8::text[]) AS i(id, full_id, doc, jb, if_rev, mode, new)), "
        f"upd AS (UPDATE {t} AS d SET "
        "rev = CASE WHEN i.mode = 0 THEN (CASE WHEN d.rev ~ '^[0-9]{1,18}-' "
        "THEN split_part(d.rev, '-', 1)::bigint + 1 ELSE 1 END)::text || '-' || i.new "
        "ELSE i.new END, doc = i.doc, body = coalesce(i.jb, i.doc)::jsonb, "
        "full_id = i.full_id FROM i WHERE d.collection = $1 AND d.id = i.id AND "
        "(i.mode = 0 OR (i.mode = 1 AND d.rev IN (i.if_rev, i.new))) RETURNING d.id, d.rev), "
        f"ins AS (INSERT INTO {t} AS d (collection, id, rev, doc, body, full_id) "
        "SELECT $1, i.id, CASE WHEN i.mode = 0 THEN '1-' || i.new ELSE i.new END, i.doc, "
        "coalesce(i.jb, i.doc)::jsonb, i.full_id FROM i WHERE i.mode IN (0, 2) AND NOT EXISTS "
        f"(SELECT 1 FROM {t} AS e WHERE e.collection = $1 AND e.id = i.id) "
        "ON CONFLICT (collection, id) DO NOTHING RETURNING d.id, d.rev), "
        f"cur AS (SELECT e.id, e.rev FROM {t} AS e JOIN i ON e.collection = $1 AND e.id = i.id) "
        "SELECT i.id, coalesce(upd.rev, ins.rev) AS rev, cur.rev AS current FROM i "
        "LEFT JOIN upd ON upd.id = i.id LEFT JOIN ins ON ins.id = i.id "
        "LEFT JOIN cur ON cur.id = i.id"
    )


def _delete_many_sql(table: Table) -> str:
    t = table.sql
    return (
        "WITH i AS (SELECT * FROM unnest($2::text[], $3::text[]) AS i(id, if_rev)), "
        f"gone AS (DELETE FROM {t} AS d USING i WHERE d.collection = $1 AND d.id = i.id "
        "AND (i.if_rev IS NULL OR d.rev = i.if_rev) RETURNING d.id), "
        f"cur AS (SELECT e.id, e.rev FROM {t} AS e JOIN i ON e.collection = $1 AND e.id = i.id) "
        "SELECT i.id, gone.id IS NOT NULL AS deleted, cur.rev AS current FROM i "
        "LEFT JOIN gone ON gone.id = i.id LEFT JOIN cur ON cur.id = i.id"
    )


class _Planned:
    """One write of a chunk, as sent: its key, texts and the revision it will leave."""

    __slots__ = ("doc", "full_id", "jb", "key", "mode", "new", "write")

    def __init__(self, write: WriteRequest) -> None:
        self.write = write
        self.key = _ids.encode(write.id)
        self.full_id = _ids.full_id_of(write.id, self.key)
        self.doc, self.jb = _codec.encode(write.body)
        token = secrets.token_hex(8)
        if write.if_rev is not None:
            self.mode, self.new = IF_REV, next_rev(write.if_rev, token)
        elif write.if_absent:
            self.mode, self.new = IF_ABSENT, f"1-{token}"
        else:
            self.mode, self.new = ANY, token  # the server adds the generation

    def landed(self, current: str | None) -> bool:
        """Whether ``current`` is the revision this write leaves (its first try landed)."""
        if current is None:
            return False
        return current.endswith("-" + self.new) if self.mode == ANY else current == self.new


class BulkOps(Driver):
    """``get_many``, ``put_many`` and ``delete_many`` of the PostgreSQL driver."""

    # get_many skips a row that is not a document (one bad row never breaks the read of
    # the others); get raises for it instead, and coalesced gets must do as get does.
    get_many_skips_unreadable = True

    _transport: Transport
    _table: Table

    async def get_many(self, collection: str, ids: Sequence[str]) -> dict[str, Record]:
        keys = {_ids.encode(doc_id): doc_id for doc_id in ids}
        sql = self._table.get_many

        async def work(connection: asyncpg.Connection) -> list[Any]:
            return list(await connection.fetch(sql, collection, list(keys)))

        rows = await self._transport.run(work, f"read documents of {collection!r}")
        found: dict[str, Record] = {}
        for key, rev, text, full_id in rows:
            record = record_of(collection, key, rev, text, full_id)
            if record is not None and keys.get(key) == record.id:
                found[record.id] = record
        return found

    async def put_many(self, collection: str, writes: Sequence[WriteRequest]) -> list[WriteOutcome]:
        planned = [_Planned(write) for write in writes]
        sql = _put_many_sql(self._table)
        attempts = Attempts()
        checked = False

        async def work(connection: asyncpg.Connection) -> list[Any]:
            nonlocal checked
            # After an attempt that may have landed, an unconditional or create-only write
            # is only checked (did our revision land?), never sent again: a re-send could
            # apply it a second time over another writer's. A conditional one is re-sent:
            # its condition admits only the revision it expected or its own.
            checked = attempts.ambiguous
            modes = [CHECK if checked and p.mode != IF_REV else p.mode for p in planned]
            return list(
                await connection.fetch(
                    sql,
                    collection,
                    [p.key for p in planned],
                    [p.full_id for p in planned],
                    [p.doc for p in planned],
                    [p.jb for p in planned],
                    [p.write.if_rev for p in planned],
                    modes,
                    [p.new for p in planned],
                )
            )

        try:
            rows = await self._transport.run(
                work, f"write documents of {collection!r}", attempts=attempts
            )
        except AsyncDBError as exc:
            return [WriteOutcome(p.write.id, error=exc) for p in planned]
        answers = {key: (rev, current) for key, rev, current in rows}
        outcomes: list[WriteOutcome] = []
        for p in planned:
            rev, current = answers.get(p.key, (None, None))
            outcomes.append(await self._outcome(collection, p, rev, current, checked, attempts))
        return outcomes

    async def _outcome(
        self,
        collection: str,
        p: _Planned,
        rev: str | None,
        current: str | None,
        checked: bool,
        attempts: Attempts,
    ) -> WriteOutcome:
        doc_id = p.write.id
        if rev is not None:
            return WriteOutcome(doc_id, rev=rev)
        if checked and p.mode != IF_REV:
            if p.landed(current):
                return WriteOutcome(doc_id, rev=current)
            return WriteOutcome(doc_id, error=self._unknown(collection, doc_id))
        if attempts.ambiguous:
            return WriteOutcome(doc_id, error=self._unknown(collection, doc_id))
        if p.mode == IF_REV:
            return WriteOutcome(doc_id, error=self._stale(collection, doc_id))
        if p.mode == IF_ABSENT:
            return WriteOutcome(doc_id, error=self._exists(collection, doc_id))
        # An unconditional write whose id another writer created between this statement's
        # snapshot and its insert: written again alone, as a single upsert.
        try:
            rev = await self.put(collection, doc_id, p.write.body)
        except AsyncDBError as exc:
            return WriteOutcome(doc_id, error=exc)
        return WriteOutcome(doc_id, rev=rev)

    async def delete_many(
        self, collection: str, deletes: Sequence[DeleteRequest]
    ) -> list[WriteOutcome]:
        keys = [_ids.encode(request.id) for request in deletes]
        sql = _delete_many_sql(self._table)

        async def work(connection: asyncpg.Connection) -> list[Any]:
            revs = [request.if_rev for request in deletes]
            return list(await connection.fetch(sql, collection, keys, revs))

        attempts = Attempts()
        try:
            rows = await self._transport.run(
                work, f"delete documents of {collection!r}", attempts=attempts
            )
        except AsyncDBError as exc:
            return [WriteOutcome(request.id, error=exc) for request in deletes]
        answers = {key: (deleted, current) for key, deleted, current in rows}
        outcomes = []
        for request, key in zip(deletes, keys, strict=True):
            deleted, current = answers.get(key, (False, None))
            if deleted or current is None or request.if_rev is None:
                # Gone (or never there, or deleted by another writer meanwhile): a delete
                # of a missing document succeeds.
                outcomes.append(WriteOutcome(request.id))
            elif attempts.ambiguous:
                error = self._unknown(collection, request.id)
                outcomes.append(WriteOutcome(request.id, error=error))
            else:
                outcomes.append(WriteOutcome(request.id, error=self._stale(collection, request.id)))
        return outcomes

    # -- errors, shared with the driver ----------------------------------------------------
    def _stale(self, collection: str, doc_id: str) -> ConflictError:
        return ConflictError(f"stale revision for document {doc_id!r} in {collection!r}")

    def _exists(self, collection: str, doc_id: str) -> ConflictError:
        return ConflictError(f"document {doc_id!r} already exists in {collection!r}")

    def _unknown(self, collection: str, doc_id: str) -> AsyncDBError:
        return outcome_unknown(
            f"{self._transport.address.shown}, writing {doc_id!r} in {collection!r}",
            "an attempt's answer was lost and the document no longer shows that attempt's revision",
        )
