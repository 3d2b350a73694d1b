"""``get_many`` over ``_all_docs`` with ``keys``; ``save_many`` and ``delete_many`` over
``_bulk_docs``.

Rows of a ``_bulk_docs`` answer are paired with the documents sent **by id**, never by
position (CouchDB documents request order, pouchdb-server does not keep it). A document
without exactly one row of its own gets ``WriteOutcomeUnknownError``: the server may have
written it. An answer lost for good (retries ran out after an attempt that may have been
applied) leaves every document of that request unknown, unless its outcome is known.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from typing import Any

from asyncdb._retry import Attempts
from asyncdb.drivers.base import Body, DeleteRequest, Record, WriteOutcome, WriteRequest
from asyncdb.drivers.couchdb import _ids
from asyncdb.drivers.couchdb._codec import encode_body, misstamped, stamp
from asyncdb.drivers.couchdb._core import RACES, CouchCore, db_path, rev_of, rows_of
from asyncdb.drivers.couchdb._errors import bulk_error, lost_races, outcome_unknown
from asyncdb.errors import (
    AsyncDBError,
    BackendError,
    BackendUnavailableError,
    InvalidDocumentError,
    WriteOutcomeUnknownError,
)

logger = logging.getLogger("asyncdb")

#: Per key sent: the rows answered for it (normally exactly one).
Rows = dict[str, list[dict[str, Any]]]


class BulkOps(CouchCore):
    """The bulk reads and writes of ``CouchDBDriver``."""

    async def get_many(self, collection: str, ids: Sequence[str]) -> dict[str, Record]:
        if not ids:
            return {}
        wanted = {_ids.encode(doc_id): doc_id for doc_id in ids}
        reply = await self._request(
            "POST",
            f"{db_path(collection)}/_all_docs?include_docs=true",
            {"keys": list(wanted)},
            passthrough=(404,),
        )
        if reply.status == 404:
            return {}
        found: dict[str, Record] = {}
        for row in rows_of(reply.data):
            doc, value, key = row.get("doc"), row.get("value"), row.get("id")
            if "error" in row or not isinstance(doc, dict) or key not in wanted:
                continue
            if isinstance(value, dict) and value.get("deleted"):
                continue
            record = self._record(collection, str(key), doc, wanted[str(key)])
            if record is not None:
                found[record.id] = record
        return found

    async def put_many(self, collection: str, writes: Sequence[WriteRequest]) -> list[WriteOutcome]:
        outcomes = [WriteOutcome(write.id) for write in writes]
        keys = [_ids.encode(write.id) for write in writes]
        payloads: list[Body] = []
        pending: list[int] = []
        unverified: list[int] = []
        sent: set[str] = set()
        for index, write in enumerate(writes):
            key = keys[index]
            payload = encode_body(write.body, write.id if key.startswith(_ids.DIGEST) else None)
            payload["_id"] = key
            payloads.append(payload)
            if key in sent:  # the face refuses this; rows could not be told apart
                outcomes[index].error = InvalidDocumentError(
                    f"duplicate _id {write.id!r} in one batch", "$._id"
                )
                continue
            sent.add(key)
            stamp(payload, write.if_rev, self._known.generation(collection, key))
            if write.if_rev is not None:
                if rev_of(write.if_rev) is None:
                    outcomes[index].error = self._stale(collection, write.id)
                    continue
                if (collection, key) not in self._known:
                    unverified.append(index)
            pending.append(index)
        if unverified:
            # A made-up revision on an id the server never held would create a phantom
            # document on CouchDB 3.x: the ids not seen yet are checked first, together.
            current = await self._current_revs(collection, [keys[i] for i in unverified])
            for index in unverified:
                if current.get(keys[index]) != writes[index].if_rev:
                    outcomes[index].error = self._stale(collection, writes[index].id)
                    pending.remove(index)
        # Unconditional writes go out without a revision first: a batch of new documents
        # then costs one request. Those that exist come back as conflicts; their current
        # revisions are read in one request and only they are sent again.
        upserts = {i for i in pending if writes[i].if_rev is None and not writes[i].if_absent}
        maybe: set[int] = set()  # sent in a request whose answer may have been lost
        for attempt in range(self._write_attempts):
            # Each request has its own record: a conflict is that request's own doing only
            # if one of its attempts may have landed.
            attempts = Attempts()
            try:
                rows = await self._bulk(collection, [payloads[i] for i in pending], attempts)
            except BackendUnavailableError as exc:
                _undecided(outcomes, pending, exc, decided=attempt > 0, maybe=maybe)
                return outcomes
            retry: list[int] = []
            restamp: list[int] = []
            for index in pending:
                doc_id = writes[index].id
                result = _only_row(rows, keys[index])
                error = None if result is None else result.get("error")
                if result is None:
                    outcomes[index].error = _no_row(collection, doc_id)
                elif error is None:
                    rev = result.get("rev")
                    outcomes[index].rev = rev_of(rev) or str(rev)
                    self._known.add(collection, keys[index], rev)
                    if misstamped(payloads[index], str(rev)):
                        restamp.append(index)
                elif error == "conflict" and index in upserts:
                    retry.append(index)
                    if attempts.ambiguous:
                        maybe.add(index)
                elif error == "conflict" and attempts.ambiguous:
                    outcomes[index].error = outcome_unknown(collection, doc_id)
                else:
                    outcomes[index].error = bulk_error(doc_id, result)
            await self._restamp_many(collection, payloads, outcomes, restamp)
            if not retry:
                return outcomes
            pending = retry
            if attempt:
                # A concurrent writer got in between: let it finish.
                await RACES.back_off(attempt)
            try:
                revs = await self._current_revs(collection, [keys[i] for i in retry])
            except BackendUnavailableError as exc:
                _undecided(outcomes, retry, exc, decided=True, maybe=maybe)
                return outcomes
            for index in retry:
                key = keys[index]
                stamp(payloads[index], revs.get(key), self._known.generation(collection, key))
        for index in pending:
            outcomes[index].error = lost_races(
                "saving", collection, writes[index].id, self._write_attempts
            )
        return outcomes

    async def delete_many(
        self, collection: str, deletes: Sequence[DeleteRequest]
    ) -> list[WriteOutcome]:
        outcomes = [WriteOutcome(request.id) for request in deletes]
        keys = [_ids.encode(request.id) for request in deletes]
        pending: list[int] = []
        seen: set[str] = set()
        for index, key in enumerate(keys):
            if key in seen:  # rows could not be told apart
                outcomes[index].error = InvalidDocumentError(
                    f"duplicate _id {deletes[index].id!r} in one batch", "$._id"
                )
                continue
            seen.add(key)
            pending.append(index)
        maybe: set[int] = set()  # sent in a request whose answer may have been lost
        for attempt in range(self._write_attempts):
            try:
                revs = await self._current_revs(collection, [keys[i] for i in pending])
            except BackendUnavailableError as exc:
                _undecided(outcomes, pending, exc, decided=attempt > 0, maybe=maybe)
                return outcomes
            tombstones: list[Body] = []
            sent: list[int] = []
            for index in pending:
                request = deletes[index]
                current = revs.get(keys[index])
                if current is None:
                    continue  # already gone: deleting it succeeds
                if request.if_rev is not None and request.if_rev != current:
                    # Revisions only move forward: a stale one never becomes current again.
                    outcomes[index].error = self._stale(collection, request.id)
                    continue
                tombstones.append({"_id": keys[index], "_rev": current, "_deleted": True})
                sent.append(index)
            if not sent:
                return outcomes
            # A lost reply that is followed by an answer is harmless: a tombstone that
            # landed reads as gone on the next round.
            attempts = Attempts()
            try:
                rows = await self._bulk(collection, tombstones, attempts, create=False)
            except BackendUnavailableError as exc:
                _undecided(outcomes, sent, exc, decided=True)
                return outcomes
            pending = []
            for index in sent:
                result = _only_row(rows, keys[index])
                error = None if result is None else result.get("error")
                if result is None:
                    outcomes[index].error = _no_row(collection, deletes[index].id)
                elif error in ("conflict", "not_found"):
                    pending.append(index)  # re-read: gone (fine), stale or raced
                    if attempts.ambiguous:
                        maybe.add(index)
                elif error is not None:
                    outcomes[index].error = bulk_error(deletes[index].id, result)
                else:
                    self._known.add(collection, keys[index], result.get("rev"))
            if not pending:
                return outcomes
            await RACES.back_off(attempt)
        for index in pending:
            outcomes[index].error = lost_races(
                "deleting", collection, deletes[index].id, self._write_attempts
            )
        return outcomes

    async def _restamp_many(
        self,
        collection: str,
        payloads: list[Body],
        outcomes: list[WriteOutcome],
        indexes: list[int],
    ) -> None:
        """``_restamp`` for the documents of a batch that were made over tombstones the
        driver had not seen: written once more, together; failures leave them as written."""
        if not indexes:
            return
        for index in indexes:
            stamp(payloads[index], outcomes[index].rev)
        try:
            rows = await self._bulk(
                collection, [payloads[i] for i in indexes], Attempts(), create=False
            )
        except BackendUnavailableError:
            logger.warning("CouchDB: could not re-mark the numbers of %d documents", len(indexes))
            return
        for index in indexes:
            result = _only_row(rows, payloads[index]["_id"])
            if result is not None and result.get("error") is None and rev_of(result.get("rev")):
                outcomes[index].rev = str(result["rev"])
                self._known.add(collection, payloads[index]["_id"], result["rev"])

    async def _bulk(
        self, collection: str, docs: list[Body], attempts: Attempts, *, create: bool = True
    ) -> Rows:
        """POST ``_bulk_docs``: the rows answered, by id. ``attempts`` learns whether an
        attempt of the request may have been applied before the one answered."""
        if not docs:
            return {}
        path = f"{db_path(collection)}/_bulk_docs"
        if create:
            reply = await self._write(collection, "POST", path, {"docs": docs}, attempts=attempts)
        else:
            reply = await self._request(
                "POST", path, {"docs": docs}, passthrough=(404,), attempts=attempts
            )
            if reply.status == 404:
                return {doc["_id"]: [{"error": "not_found"}] for doc in docs}
        if not isinstance(reply.data, list):
            raise BackendError(
                f"CouchDB at {self._transport.address.redacted} answered _bulk_docs with "
                f"{type(reply.data).__name__}, not a list of results"
            )
        rows: Rows = {}
        sent = {doc["_id"] for doc in docs}
        for item in reply.data:
            key = item.get("id") if isinstance(item, dict) else None
            if isinstance(key, str) and key in sent:
                rows.setdefault(key, []).append(item)
            else:
                logger.warning("CouchDB answered _bulk_docs with a row for no document sent")
        return rows


def _only_row(rows: Rows, key: str) -> dict[str, Any] | None:
    """The one row answered for ``key``; ``None`` when there is none or more than one."""
    found = rows.get(key, [])
    return found[0] if len(found) == 1 else None


def _no_row(collection: str, doc_id: str) -> WriteOutcomeUnknownError:
    return WriteOutcomeUnknownError(
        f"CouchDB's _bulk_docs answer has no single result for {doc_id!r} in "
        f"{collection!r}: it may or may not have been written; read the document to see"
    )


def _undecided(
    outcomes: list[WriteOutcome],
    indexes: list[int],
    exc: AsyncDBError,
    *,
    decided: bool,
    maybe: Collection[int] = (),
) -> None:
    """Record ``exc`` for the documents whose request failed. An outcome that may have
    happened (this request's, or an earlier one's in ``maybe``) is unknown per document;
    a plain failure of the very first request (nothing decided, nothing applied) is raised
    for the whole call, as any other failed read."""
    if not decided and not isinstance(exc, WriteOutcomeUnknownError):
        raise exc
    for index in indexes:
        if isinstance(exc, WriteOutcomeUnknownError) or index in maybe:
            outcomes[index].error = WriteOutcomeUnknownError(
                f"{outcomes[index].id!r} may or may not have been written: {exc}"
            )
        else:
            outcomes[index].error = exc
