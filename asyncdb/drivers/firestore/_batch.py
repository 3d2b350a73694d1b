"""``BatchWrite``: many writes per RPC, one outcome per document.

``BatchWrite`` is not atomic and answers one status per write. A write is retried alone
when its own status is transient; its outcome is unknown (``WriteOutcomeUnknownError``)
when one of its attempts may have been applied — an RPC lost after the server acted
(deadline, unavailable, internal) or such a status of its own — and then either the
retries ran out or, for a conditional write, a retry met a conflict.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import anyio
from google.cloud.firestore_v1 import types

from asyncdb.drivers.base import WriteOutcome
from asyncdb.drivers.firestore import _errors
from asyncdb.drivers.firestore._connection import Connection
from asyncdb.errors import BackendUnavailableError, WriteOutcomeUnknownError

__all__ = ["MAX_BATCH_WRITES", "batch_write"]

_BatchWriteRequest: Final[Any] = types.BatchWriteRequest.pb()
#: Firestore accepts at most 10 MiB per request; stay clear of it when packing writes.
_MAX_REQUEST_BYTES: Final = 9 * 1024 * 1024
MAX_BATCH_WRITES: Final = 500


async def batch_write(
    conn: Connection,
    retry: _errors.Retrier,
    request_timeout: float,
    where: str,
    prepared: list[tuple[int, Any]],
    outcomes: list[WriteOutcome],
    succeeded: Callable[[int, Any], None] | None,
    *,
    conditional: bool = False,
) -> set[int]:
    """Send ``prepared`` writes (index into ``outcomes``, ``Write``); record every write's
    outcome. ``conditional``: a conflict after an ambiguous attempt may be that attempt's
    own write (unknown); deletes pass False and read back what a conflict means.

    Returns the indexes of the writes that had an attempt which may have been applied.
    """
    maybe_applied: set[int] = set()
    pending = prepared
    attempt = 0
    while pending:
        again: list[tuple[int, Any]] = []
        for chunk in _pack(pending):
            request = _BatchWriteRequest(database=conn.database_path)
            request.writes.extend([write for _, write in chunk])
            wrapped = types.BatchWriteRequest.wrap(request)

            async def call(wrapped: Any = wrapped) -> Any:
                response = await conn.client.batch_write(
                    request=wrapped, retry=None, timeout=request_timeout, metadata=conn.metadata
                )
                return types.BatchWriteResponse.pb(response)

            try:
                response, ambiguous = await retry.run_noting_ambiguity(where, call, write=True)
            except BackendUnavailableError as exc:
                # The RPC itself failed for good: each write's own outcome, not the batch's.
                lost = isinstance(exc, WriteOutcomeUnknownError)
                for index, _ in chunk:
                    if lost:
                        maybe_applied.add(index)
                    outcomes[index].error = _unfinished(
                        where, outcomes[index].id, index, maybe_applied
                    )
                continue
            for (index, write), status, result in zip(
                chunk, response.status, response.write_results, strict=True
            ):
                if ambiguous:
                    maybe_applied.add(index)
                _record(
                    where,
                    index,
                    write,
                    status,
                    result,
                    outcomes,
                    succeeded,
                    again,
                    maybe_applied,
                    conditional=conditional,
                )
        if not again:
            break
        if attempt >= retry.max_retries:
            for index, _ in again:
                outcomes[index].error = _unfinished(where, outcomes[index].id, index, maybe_applied)
            break
        await anyio.sleep(retry.delay(attempt))
        attempt += 1
        pending = again
    return maybe_applied


def _record(
    where: str,
    index: int,
    write: Any,
    status: Any,
    result: Any,
    outcomes: list[WriteOutcome],
    succeeded: Callable[[int, Any], None] | None,
    again: list[tuple[int, Any]],
    maybe_applied: set[int],
    *,
    conditional: bool,
) -> None:
    outcome = outcomes[index]
    code = status.code
    if code == _errors.OK:
        outcome.error = None
        if succeeded is not None:
            succeeded(index, result)
    elif code in _errors.TRANSIENT_CODES:
        if code in _errors.AMBIGUOUS_CODES:
            maybe_applied.add(index)
        again.append((index, write))
        outcome.error = BackendUnavailableError(
            f"{where}: {outcome.id!r} was not written ({status.message})"
        )
    elif conditional and index in maybe_applied and code in _errors.CONFLICT_CODES:
        outcome.error = _errors.outcome_unknown(f"{where} {outcome.id!r}")
    else:
        outcome.error = _errors.error_for_status(code, status.message, f"{where} {outcome.id!r}")


def _unfinished(
    where: str, doc_id: str, index: int, maybe_applied: set[int]
) -> BackendUnavailableError:
    """The error of a write still failing when the retries ran out."""
    if index in maybe_applied:
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
