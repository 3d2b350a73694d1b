"""``patch`` of the PostgreSQL driver: read, change and write one document in one
transaction, under the row's lock (``SELECT ... FOR UPDATE``).

A single ``UPDATE`` computing the new document in SQL cannot keep the contract: the row's
``doc`` is the exact JSON text (key order, ``1.0`` against ``1``), which JSONB arithmetic
would lose, and the face's checks (64-bit integers, the size limit, a schema model) are
Python. So the change runs here, between the locked read and the write: no other writer
of the row comes in between, so no patch loses a race and none is retried for one. The
new revision is the one ``put`` leaves over the revision read (``next_rev``), so later
conditional writes work as after any write.

Faults: the transaction is retried as a whole while nothing can have been applied: the
server rolled it back (a serialization failure, a statement cancelled), or the connection
was lost before ``COMMIT`` was sent (the server then rolls back). Once a ``COMMIT`` went
out and its answer was lost, the patch is never applied again (that would apply an
increment twice): the next attempt only reads the row, and the patch succeeded if the row
shows that attempt's revision (its token), else it is ``WriteOutcomeUnknownError``.
"""

from __future__ import annotations

import contextlib
import secrets
from typing import Any

import asyncpg

from asyncdb._retry import Attempts, Failure
from asyncdb.drivers.base import Change, Record
from asyncdb.drivers.postgres import _codec, _ids
from asyncdb.drivers.postgres._bulk import BulkOps
from asyncdb.drivers.postgres._errors import classify
from asyncdb.drivers.postgres._records import next_rev, record_of
from asyncdb.errors import AsyncDBError, BackendError, NotFoundError

__all__ = ["PatchOps"]


class PatchOps(BulkOps):
    """``patch`` of the PostgreSQL driver."""

    async def patch(
        self, collection: str, doc_id: str, change: Change, *, if_rev: str | None = None
    ) -> Record:
        key = _ids.encode(doc_id)
        full_id = _ids.full_id_of(doc_id, key)
        token = secrets.token_hex(8)
        table = self._table
        attempts = Attempts()
        committing: Record | None = None  # what an attempt whose COMMIT was lost wrote

        async def check(connection: asyncpg.Connection) -> Record | AsyncDBError:
            rev = await connection.fetchval(table.current_rev, collection, key)
            if committing is not None and isinstance(rev, str) and rev.endswith("-" + token):
                return Record(doc_id, rev, committing.body)
            return self._unknown(collection, doc_id)

        async def change_row(connection: asyncpg.Connection) -> Record | AsyncDBError:
            # A refusal is returned, not raised: an exception would make the transport
            # throw the connection away. Nothing is written before the change succeeded.
            row = await connection.fetchrow(table.get_for_update, collection, key)
            try:
                if row is None:
                    raise NotFoundError(collection, doc_id)
                current = record_of(collection, key, row[0], row[1], row[2])
                if current is None or current.id != doc_id:
                    raise self._not_a_document(collection, doc_id)
                if if_rev is not None and current.rev != if_rev:
                    raise self._stale(collection, doc_id)
                body = change(current.body)
            except AsyncDBError as refused:
                return refused
            doc, jb = _codec.encode(body)
            new = next_rev(current.rev, token)
            args: tuple[Any, ...] = (collection, key, new, doc, jb, full_id, current.rev)
            if await connection.fetchval(table.put_if_rev, *args) != new:
                # Cannot happen under the row lock; never acknowledge a write that did not.
                return BackendError(f"the patch of {doc_id!r} in {collection!r} was not written")
            return Record(doc_id, new, body)

        async def work(connection: asyncpg.Connection) -> Record | AsyncDBError:
            nonlocal committing
            if committing is not None:
                return await check(connection)
            await connection.execute("BEGIN")
            try:
                outcome = await change_row(connection)
            except asyncpg.PostgresError as exc:
                # The server refused a statement: the connection goes back to the pool, so
                # the transaction (and its row lock) ends here. A lost connection (08...)
                # has no transaction left to end.
                if classify(exc) is not Failure.AMBIGUOUS:
                    await _roll_back(connection)
                raise
            if isinstance(outcome, AsyncDBError):
                await _roll_back(connection)
                return outcome
            try:
                await connection.execute("COMMIT")
            except Exception as exc:
                # Until COMMIT is sent the server can only roll back; once it is, a lost
                # answer leaves it unknown whether the write landed.
                if classify(exc) is Failure.AMBIGUOUS:
                    committing = outcome
                elif isinstance(exc, asyncpg.PostgresError):
                    await _roll_back(connection)  # the connection goes back to the pool
                raise
            return outcome

        # Any other failure (a connection lost, a timeout) makes the transport terminate the
        # connection: the server then rolls its transaction back.
        result = await self._transport.run(
            work, f"patch a document of {collection!r}", attempts=attempts
        )
        if isinstance(result, AsyncDBError):
            raise result
        return result

    @staticmethod
    def _not_a_document(collection: str, doc_id: str) -> BackendError:
        return BackendError(
            f"the PostgreSQL row of {doc_id!r} in {collection!r} is not an asyncdb "
            "document (written by another program?); it cannot be patched"
        )


async def _roll_back(connection: asyncpg.Connection) -> None:
    """End the transaction of a connection that goes back to the pool. One that cannot
    (broken meanwhile) is terminated, so the pool never hands it out again; the failure
    being handled is the one the caller raises, not this one."""
    try:
        await connection.execute("ROLLBACK")
    except Exception:  # noqa: BLE001 - see the docstring
        with contextlib.suppress(Exception):
            connection.terminate()
