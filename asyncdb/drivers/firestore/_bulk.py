"""Bulk reads and writes: ``get_many`` (``BatchGetDocuments``), ``put_many`` and
``delete_many`` (``BatchWrite``: many writes per RPC, one outcome per document).

``BatchWrite`` is not atomic and answers one status per write. A write is retried alone
when its own status is transient; its outcome is unknown (``WriteOutcomeUnknownError``)
when one of its attempts may have been applied — an RPC lost after the server acted
(deadline, unavailable, internal) or such a status of its own — and then either the
retries ran out or, for a conditional write, a retry met a conflict. Each write keeps its
own ``asyncdb._retry.Attempts`` across the rounds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final

from google.cloud.firestore_v1 import types
from google.rpc.code_pb2 import Code

from asyncdb._retry import Attempts, Failure
from asyncdb.drivers._keyplan import KeyLayout
from asyncdb.drivers.base import DeleteRequest, Record, WriteOutcome, WriteRequest
from asyncdb.drivers.firestore import _errors
from asyncdb.drivers.firestore._codec import format_revision, parse_revision
from asyncdb.drivers.firestore._records import addressable, fill_write
from asyncdb.drivers.firestore._transport import Connection, Transport
from asyncdb.errors import (
    AsyncDBError,
    BackendUnavailableError,
    ConflictError,
    WriteOutcomeUnknownError,
)

__all__ = ["MAX_BATCH_WRITES", "BulkMixin", "batch_write"]

_BatchGetDocumentsRequest: Final[Any] = types.BatchGetDocumentsRequest.pb()
_BatchWriteRequest: Final[Any] = types.BatchWriteRequest.pb()
_Write: Final[Any] = types.Write.pb()
#: Firestore accepts at most 10 MiB per request; stay clear of it when packing writes.
_MAX_REQUEST_BYTES: Final = 9 * 1024 * 1024
MAX_BATCH_WRITES: Final = 500


class BulkMixin:
    """The native bulk operations of ``FirestoreDriver``."""

    _transport: Transport

    async def _write_layouts(self, conn: Connection, collection: str) -> tuple[KeyLayout, ...]:
        raise NotImplementedError  # IndexMixin's: the indexes a write keeps

    async def _kept_stamp(self, conn: Connection, collection: str, doc_id: str, rev: str) -> Any:
        raise NotImplementedError  # IndexMixin's: a revision kept through a backfill

    async def get_many(self, collection: str, ids: Sequence[str]) -> dict[str, Record]:
        if not ids:
            return {}
        transport = self._transport
        conn = await transport.connection()
        wanted = set(ids)
        request = types.BatchGetDocumentsRequest.wrap(
            _BatchGetDocumentsRequest(
                database=conn.database_path,
                documents=[conn.name(collection, doc_id) for doc_id in ids],
            )
        )

        async def call() -> dict[str, Record]:
            stream = await conn.client.batch_get_documents(
                request=request, retry=None, timeout=transport.timeout, metadata=conn.metadata
            )
            found: dict[str, Record] = {}
            async for response in stream:
                raw = types.BatchGetDocumentsResponse.pb(response)
                if raw.HasField("found"):
                    # Only the document stored under an id's own key answers for it, as
                    # for get: another program's document under a digest key may name
                    # another id (one asked for too) as its own.
                    record = addressable(raw.found)
                    if record is not None and record.id in wanted:
                        found[record.id] = record
            return found

        return await transport.call(f"get_many {collection}", call)

    async def put_many(self, collection: str, writes: Sequence[WriteRequest]) -> list[WriteOutcome]:
        conn = await self._transport.connection()
        layouts = await self._write_layouts(conn, collection)
        outcomes = [WriteOutcome(write.id) for write in writes]
        prepared: list[tuple[int, Any]] = []
        for index, request in enumerate(writes):
            write = _Write()
            try:
                fill_write(
                    write,
                    conn.documents_path,
                    collection,
                    request.id,
                    request.body,
                    request.if_rev,
                    request.if_absent,
                    layouts,
                )
            except ConflictError as exc:
                outcomes[index].error = exc
                continue
            prepared.append((index, write))

        def succeeded(index: int, result: Any) -> None:
            outcomes[index].rev = format_revision(result.update_time)

        where = f"put_many {collection}"
        await batch_write(
            self._transport, conn, where, prepared, outcomes, succeeded, conditional=True
        )
        # A conflict on a revision the document kept while asyncdb added index keys: the
        # write goes again against the document's update_time.
        again: list[tuple[int, Any]] = []
        for index, outcome in enumerate(outcomes):
            rev = writes[index].if_rev
            if type(outcome.error) is ConflictError and rev is not None:
                try:
                    stamp = await self._kept_stamp(conn, collection, outcome.id, rev)
                except AsyncDBError as exc:
                    # Not written (its precondition failed), and not known to be stale.
                    outcome.error = exc
                    continue
                if stamp is not None:
                    write = _Write()
                    request = writes[index]
                    fill_write(
                        write,
                        conn.documents_path,
                        collection,
                        request.id,
                        request.body,
                        None,
                        False,
                        layouts,
                    )
                    write.current_document.update_time.CopyFrom(stamp)
                    again.append((index, write))
        if again:
            await batch_write(
                self._transport, conn, where, again, outcomes, succeeded, conditional=True
            )
        return outcomes

    async def delete_many(
        self, collection: str, deletes: Sequence[DeleteRequest]
    ) -> list[WriteOutcome]:
        conn = await self._transport.connection()
        outcomes = [WriteOutcome(request.id) for request in deletes]
        prepared: list[tuple[int, Any]] = []
        to_check: list[int] = []  # stale or missing: a missing document is a success
        for index, request in enumerate(deletes):
            write = _Write(delete=conn.name(collection, request.id))
            if request.if_rev is not None:
                stamp = parse_revision(request.if_rev)
                if stamp is None:
                    to_check.append(index)
                    continue
                write.current_document.update_time.CopyFrom(stamp)
            prepared.append((index, write))

        where = f"delete_many {collection}"
        attempts = await batch_write(self._transport, conn, where, prepared, outcomes, None)
        for index, outcome in enumerate(outcomes):
            if isinstance(outcome.error, ConflictError):
                outcome.error = None
                to_check.append(index)
        if to_check:
            present = await self.get_many(collection, [deletes[index].id for index in to_check])
            again: list[tuple[int, Any]] = []
            for index in to_check:
                doc_id, rev = deletes[index].id, deletes[index].if_rev
                if doc_id not in present:
                    continue
                if attempts[index].ambiguous:
                    # A lost attempt may have deleted it before somebody created it again.
                    outcomes[index].error = _errors.outcome_unknown(f"{where} {doc_id!r}")
                    continue
                outcomes[index].error = ConflictError(
                    f"stale revision for document {doc_id!r} in {collection!r}"
                )
                # A revision the document kept while asyncdb added index keys.
                try:
                    stamp = (
                        None
                        if rev is None
                        else await self._kept_stamp(conn, collection, doc_id, rev)
                    )
                except AsyncDBError as exc:
                    outcomes[index].error = exc  # not deleted, and not known to be stale
                    continue
                if stamp is not None:
                    write = _Write(delete=conn.name(collection, doc_id))
                    write.current_document.update_time.CopyFrom(stamp)
                    again.append((index, write))
            if again:
                await batch_write(self._transport, conn, where, again, outcomes, None)
        return outcomes


async def batch_write(
    transport: Transport,
    conn: Connection,
    where: str,
    prepared: list[tuple[int, Any]],
    outcomes: list[WriteOutcome],
    succeeded: Callable[[int, Any], None] | None,
    *,
    conditional: bool = False,
) -> list[Attempts]:
    """Send ``prepared`` writes (index into ``outcomes``, ``Write``); record every write's
    outcome. ``conditional``: a conflict after an ambiguous attempt may be that attempt's
    own write (unknown); deletes pass False and read back what a conflict means.

    Returns each write's attempts (by index into ``outcomes``): ``.ambiguous`` when one of
    them may have been applied.
    """
    attempts = [Attempts() for _ in outcomes]
    pending = prepared
    retry = 0
    while pending:
        again: list[tuple[int, Any]] = []
        for chunk in _pack(pending):
            request = _BatchWriteRequest(database=conn.database_path)
            request.writes.extend([write for _, write in chunk])
            wrapped = types.BatchWriteRequest.wrap(request)

            async def call(wrapped: Any = wrapped) -> Any:
                response = await conn.client.batch_write(
                    request=wrapped, retry=None, timeout=transport.timeout, metadata=conn.metadata
                )
                return types.BatchWriteResponse.pb(response)

            # The RPC's attempts, shared by every write it carries.
            sent = Attempts()
            try:
                response = await transport.call(where, call, attempts=sent)
            except BackendUnavailableError as exc:
                # The RPC itself failed for good: each write's own outcome, not the batch's.
                lost = isinstance(exc, WriteOutcomeUnknownError)
                for index, _ in chunk:
                    attempts[index].count += sent.count
                    attempts[index].ambiguous |= lost
                    outcomes[index].error = _unfinished(where, outcomes[index].id, attempts[index])
                continue
            for (index, write), status, result in zip(
                chunk, response.status, response.write_results, strict=True
            ):
                attempts[index].count += sent.count
                attempts[index].ambiguous |= sent.ambiguous
                _record(
                    where,
                    index,
                    write,
                    status,
                    result,
                    outcomes,
                    succeeded,
                    again,
                    attempts[index],
                    conditional=conditional,
                )
        if not again:
            break
        if retry >= transport.policy.max_retries:
            for index, _ in again:
                outcomes[index].error = _unfinished(where, outcomes[index].id, attempts[index])
            break
        await transport.policy.back_off(retry)
        retry += 1
        pending = again
    return attempts


def _record(
    where: str,
    index: int,
    write: Any,
    status: Any,
    result: Any,
    outcomes: list[WriteOutcome],
    succeeded: Callable[[int, Any], None] | None,
    again: list[tuple[int, Any]],
    attempts: Attempts,
    *,
    conditional: bool,
) -> None:
    outcome = outcomes[index]
    code = status.code
    failure = _errors.classify_status(code)
    if code == Code.OK:
        outcome.error = None
        if succeeded is not None:
            succeeded(index, result)
    elif failure is not Failure.FINAL:
        if failure is Failure.AMBIGUOUS:
            attempts.ambiguous = True
        again.append((index, write))
        outcome.error = BackendUnavailableError(
            f"{where}: {outcome.id!r} was not written ({status.message})"
        )
    elif conditional and attempts.ambiguous and code in _errors.CONFLICT_CODES:
        outcome.error = _errors.outcome_unknown(f"{where} {outcome.id!r}")
    else:
        outcome.error = _errors.error_for_status(code, status.message, f"{where} {outcome.id!r}")


def _unfinished(where: str, doc_id: str, attempts: Attempts) -> BackendUnavailableError:
    """The error of a write still failing when the retries ran out."""
    if attempts.ambiguous:
        return _errors.outcome_unknown(f"{where} {doc_id!r}", retries_ran_out=True)
    return BackendUnavailableError(f"{where}: {doc_id!r} was not written: Firestore is unavailable")


def _pack(writes: list[tuple[int, Any]]) -> list[list[tuple[int, Any]]]:
    """Split writes into requests of at most 500 writes and about 9 MiB."""
    chunks: list[list[tuple[int, Any]]] = []
    current: list[tuple[int, Any]] = []
    size = 0
    for item in writes:
        item_size = item[1].ByteSize()
        if current and (len(current) >= MAX_BATCH_WRITES or size + item_size > _MAX_REQUEST_BYTES):
            chunks.append(current)
            current, size = [], 0
        current.append(item)
        size += item_size
    if current:
        chunks.append(current)
    return chunks
