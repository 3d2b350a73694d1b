"""Bulk reads and writes of the SQLite driver: one statement per kind of request, all of a
chunk in one transaction (``Transport.transaction``), with an outcome per document.

``put_many`` writes a chunk with at most three statements: the unconditional writes as one
multi-row upsert, the creates as one ``INSERT ... ON CONFLICT DO NOTHING`` and the
conditional writes as one ``UPDATE ... FROM (VALUES ...) WHERE id = v.id AND rev = v.rev``;
``RETURNING`` names the rows written, so every other request of the chunk is a conflict.
``delete_many`` reads the current revisions of its conditional deletes inside the same
transaction, so "stale" and "already gone" are told apart without a race.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from asyncdb.drivers.base import DeleteRequest, Record, WriteOutcome, WriteRequest
from asyncdb.drivers.sqlite import _ids
from asyncdb.drivers.sqlite._codec import FIRST_GENERATION, dumps, token
from asyncdb.drivers.sqlite._core import SQLiteCore
from asyncdb.drivers.sqlite._tables import table
from asyncdb.drivers.sqlite._transport import MissingTable, Statement
from asyncdb.errors import AsyncDBError, ConflictError

__all__ = ["BulkOps"]


def _marks(rows: int, columns: int) -> str:
    row = "(" + ", ".join("?" * columns) + ")"
    return ", ".join([row] * rows)


class BulkOps(SQLiteCore):
    """``get_many``, ``put_many`` and ``delete_many`` of the SQLite driver."""

    # get_many skips a row that is not a document (one bad row never breaks the read of
    # the others); get raises for it instead, and coalesced gets must do as get does.
    get_many_skips_unreadable = True

    async def get_many(self, collection: str, ids: Sequence[str]) -> dict[str, Record]:
        if not ids:
            return {}
        keys = [_ids.encode(doc_id) for doc_id in ids]
        marks = ", ".join("?" * len(keys))
        sql = f"SELECT id, rev, body FROM {table(collection)} WHERE id IN ({marks})"  # noqa: S608 - quoted names, values bound
        try:
            rows = await self._transport.rows(sql, keys, what="get_many")
        except MissingTable:
            return {}
        return {found.id: found for found in self._readable(collection, rows)}

    async def put_many(self, collection: str, writes: Sequence[WriteRequest]) -> list[WriteOutcome]:
        if not writes:
            return []
        name = table(collection)
        plain = [w for w in writes if w.if_rev is None and not w.if_absent]
        creates = [w for w in writes if w.if_rev is None and w.if_absent]
        conditional = [w for w in writes if w.if_rev is not None]
        statements: list[tuple[str, list[Any]]] = []
        if plain:
            params: list[Any] = []
            for w in plain:
                params += [_ids.encode(w.id), FIRST_GENERATION + token(), dumps(w.body)]
            statements.append(
                (
                    f"INSERT INTO {name} (id, rev, body) VALUES {_marks(len(plain), 3)} "  # noqa: S608 - quoted names, values bound
                    "ON CONFLICT (id) DO UPDATE SET "
                    "rev = (CAST(rev AS INTEGER) + 1) || '-' || substr(excluded.rev, 3), "
                    "body = excluded.body RETURNING id, rev",
                    params,
                )
            )
        if creates:
            params = []
            for w in creates:
                params += [_ids.encode(w.id), FIRST_GENERATION + token(), dumps(w.body)]
            statements.append(
                (
                    f"INSERT INTO {name} (id, rev, body) VALUES {_marks(len(creates), 3)} "  # noqa: S608 - quoted names, values bound
                    "ON CONFLICT (id) DO NOTHING RETURNING id, rev",
                    params,
                )
            )
        if conditional:
            params = []
            for w in conditional:
                params += [_ids.encode(w.id), w.if_rev, token(), dumps(w.body)]
            statements.append(
                (
                    f"UPDATE {name} SET rev = (CAST({name}.rev AS INTEGER) + 1) || '-' || "  # noqa: S608 - quoted names, values bound
                    f"v.column3, body = v.column4 FROM (VALUES {_marks(len(conditional), 4)}) "
                    f"AS v WHERE {name}.id = v.column1 AND {name}.rev = v.column2 "
                    f"RETURNING {name}.id, {name}.rev",
                    params,
                )
            )

        async def work(statement: Statement) -> dict[str, str]:
            written: dict[str, str] = {}
            for sql, values in statements:
                for key, rev in await statement(sql, values):
                    written[_ids.decode(key)] = rev
            return written

        try:
            written = await self._in_transaction(collection, work, "put_many")
        except AsyncDBError as exc:  # nothing of the chunk was applied (or, unknown: all)
            return [WriteOutcome(w.id, error=exc) for w in writes]
        outcomes: list[WriteOutcome] = []
        for w in writes:
            if w.id in written:
                outcomes.append(WriteOutcome(w.id, rev=written[w.id]))
            elif w.if_absent:
                error = ConflictError(f"document {w.id!r} already exists in {collection!r}")
                outcomes.append(WriteOutcome(w.id, error=error))
            else:
                outcomes.append(WriteOutcome(w.id, error=self._stale(collection, w.id)))
        return outcomes

    async def delete_many(
        self, collection: str, deletes: Sequence[DeleteRequest]
    ) -> list[WriteOutcome]:
        if not deletes:
            return []
        name = table(collection)
        plain = [_ids.encode(d.id) for d in deletes if d.if_rev is None]
        conditional = {d.id: d.if_rev for d in deletes if d.if_rev is not None}

        async def work(statement: Statement) -> set[str]:
            stale: set[str] = set()
            targets = list(plain)  # fresh on every attempt of the transaction
            if conditional:
                keys = [_ids.encode(doc_id) for doc_id in conditional]
                marks = ", ".join("?" * len(keys))
                current = await statement(f"SELECT id, rev FROM {name} WHERE id IN ({marks})", keys)  # noqa: S608 - quoted names, values bound
                matching: list[str] = []
                for key, rev in current:
                    doc_id = _ids.decode(key)
                    if conditional.get(doc_id) == rev:
                        matching.append(key)
                    else:
                        stale.add(doc_id)
                targets.extend(matching)
            if targets:
                marks = ", ".join("?" * len(targets))
                await statement(f"DELETE FROM {name} WHERE id IN ({marks})", targets)  # noqa: S608 - quoted names, values bound
            return stale

        try:
            stale = await self._in_transaction(collection, work, "delete_many", create=False)
        except MissingTable:
            return [WriteOutcome(d.id) for d in deletes]
        except AsyncDBError as exc:
            return [WriteOutcome(d.id, error=exc) for d in deletes]
        return [
            WriteOutcome(d.id, error=self._stale(collection, d.id) if d.id in stale else None)
            for d in deletes
        ]

    async def _in_transaction(
        self, collection: str, work: Any, what: str, *, create: bool = True
    ) -> Any:
        """``work`` in one transaction; a missing table is created first (``create``) or
        reported (``MissingTable``)."""
        try:
            return await self._transport.transaction(work, what=what)
        except MissingTable:
            if not create:
                raise
            await self._transport.ensure_table(collection)
            return await self._transport.transaction(work, what=what)
