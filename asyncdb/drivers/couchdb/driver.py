"""``CouchDBDriver``: asyncdb over the CouchDB HTTP API (3.x), natively async via aiohttp.

How the contract maps (details in docs/providers/couchdb.md):
- a collection is a database, created by the first write that finds it missing (the
  write is then retried once), so a normal operation is one round trip;
- a revision is CouchDB's own ``_rev``; preconditions are checked by the server;
- scans page ``_all_docs`` by key (``startkey``), never by ``skip`` or bookmarks;
- ``find`` sends a Mango selector and filters the answer again with ``Query.matches``;
- bulk calls use ``_all_docs`` with ``keys`` and ``_bulk_docs``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
import ssl
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote

from asyncdb.drivers.base import (
    Body,
    DeleteRequest,
    Driver,
    DriverLimits,
    Record,
    ScanPage,
    WriteOutcome,
    WriteRequest,
)
from asyncdb.drivers.couchdb._codec import MARKER, decode_body, dumps, encode_body
from asyncdb.drivers.couchdb._mango import (
    PLAIN_FIELD,
    Index,
    choose_index,
    equality_fields,
    find_request,
    selector,
)
from asyncdb.drivers.couchdb._transport import (
    Reply,
    Transport,
    parse_server_url,
    reason_of,
    segment,
)
from asyncdb.errors import (
    AsyncDBError,
    AuthenticationError,
    BackendError,
    ConfigurationError,
    ConflictError,
    DocumentTooLargeError,
    WriteOutcomeUnknownError,
)

if TYPE_CHECKING:
    from typing import Self

    from asyncdb.query import Query
    from asyncdb.settings import Settings

__all__ = ["CouchDBDriver"]

logger = logging.getLogger("asyncdb")

#: The shape of a CouchDB revision. A ``_rev`` of any other shape cannot be current, and
#: CouchDB would refuse a whole ``_bulk_docs`` request over it (400), so it fails alone.
_REVISION: Final = re.compile(r"[0-9]+-[0-9A-Za-z]+")
_UTF16_MAX: Final = "\uffff" * 8


class _Unknown:
    """A setting not learnt from the server yet."""


_UNKNOWN: Final = _Unknown()


def _rev_of(value: object) -> str | None:
    return value if isinstance(value, str) and _REVISION.fullmatch(value) else None


class CouchDBDriver(Driver):
    """Documents in CouchDB databases, one database per collection.

    ``url`` is the server's base URL (credentials in it are accepted; ``user`` and
    ``password`` override them). ``pool_size`` bounds the open connections;
    ``write_attempts`` bounds how often an unconditional write or delete re-reads the
    current revision after losing a race to a concurrent writer; ``find_page_size`` is the
    most documents one ``_find`` request asks for.
    """

    name = "couchdb"
    limits = DriverLimits(
        max_get_batch=500, max_write_batch=500, max_concurrency=4, scan_page_size=1000
    )

    def __init__(
        self,
        url: str,
        *,
        user: str | None = None,
        password: str | None = None,
        request_timeout: float = 30.0,
        connect_timeout: float = 10.0,
        max_retries: int = 4,
        pool_size: int = 64,
        verify_tls: bool = True,
        ssl_context: ssl.SSLContext | None = None,
        write_attempts: int = 20,
        find_page_size: int = 1000,
    ) -> None:
        if write_attempts < 1:
            raise ConfigurationError("write_attempts must be at least 1")
        if find_page_size < 1:
            raise ConfigurationError("find_page_size must be at least 1")
        address = parse_server_url(url, user, password)
        self._transport = Transport(
            address,
            request_timeout=request_timeout,
            connect_timeout=connect_timeout,
            max_retries=max_retries,
            pool_size=pool_size,
            verify_tls=verify_tls,
            ssl_context=ssl_context,
        )
        self._write_attempts = write_attempts
        self._find_page_size = find_page_size
        # Whether HEAD's ETag is the revision (CouchDB) or an opaque hash (pouchdb-server);
        # learnt from the first HEAD, then the cheaper way is used directly.
        self._etag_is_revision: bool | None = None
        # The ``endkey`` a scan sends: none on CouchDB (its default covers every id);
        # pouchdb-server's in-memory store stops early without one. Learnt from ``GET /``.
        self._scan_endkey: str | _Unknown | None = _UNKNOWN
        # The json indexes ending in ``_id`` of each database, read once per process with
        # the first ``find`` that could use one, and kept up to date by ``ensure_index``.
        self._indexes: dict[str, set[Index]] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        """Build from ``COUCHDB_URL`` (required), ``COUCHDB_USER``, ``COUCHDB_PASSWORD``,
        ``DATABASE_REQUEST_TIMEOUT`` and ``DATABASE_MAX_RETRIES``."""
        if not settings.couchdb_url:
            raise ConfigurationError("COUCHDB_URL is not set (e.g. http://127.0.0.1:5984)")
        password = settings.couchdb_password
        return cls(
            settings.couchdb_url.get_secret_value(),
            user=settings.couchdb_user,
            password=password.get_secret_value() if password is not None else None,
            request_timeout=settings.request_timeout,
            connect_timeout=min(10.0, settings.request_timeout),
            max_retries=settings.max_retries,
        )

    def describe(self) -> str:
        address = self._transport.address
        user = f" as {address.user!r}" if address.user is not None else ""
        return f"couchdb {address.redacted}{user}"

    def __repr__(self) -> str:
        return f"<CouchDBDriver {self.describe()}>"

    # -- lifecycle -------------------------------------------------------------------------
    async def open(self) -> None:
        self._transport.session()

    async def aclose(self) -> None:
        await self._transport.aclose()

    async def ping(self) -> None:
        """``GET /`` proves the server answers; ``GET /_session`` that it accepts the
        credentials (401/403 raise ``AuthenticationError``)."""
        await self._transport.request("GET", "/")
        if self._transport.address.user is not None:
            reply = await self._transport.request("GET", "/_session", passthrough=(404,))
            ctx = reply.data.get("userCtx") if isinstance(reply.data, dict) else None
            if reply.status != 404 and isinstance(ctx, dict) and ctx.get("name") is None:
                # CouchDB treats unknown basic-auth users as anonymous on some endpoints.
                roles = ctx.get("roles")
                if not (isinstance(roles, list) and "_admin" in roles):
                    raise AuthenticationError(
                        f"CouchDB at {self._transport.address.redacted} did not authenticate "
                        f"user {self._transport.address.user!r}"
                    )

    # -- requests --------------------------------------------------------------------------
    async def _request(
        self,
        method: str,
        path: str,
        payload: Any = None,
        passthrough: tuple[int, ...] = (),
    ) -> Reply:
        body = None if payload is None else dumps(payload).encode()
        return await self._transport.request(method, path, body=body, passthrough=passthrough)

    async def _write(
        self,
        collection: str,
        method: str,
        path: str,
        payload: Any,
        passthrough: tuple[int, ...] = (),
    ) -> Reply:
        """A write that creates the database when it finds it missing, then retries once."""
        body = dumps(payload).encode()
        statuses = (404, *passthrough)
        reply = await self._transport.request(method, path, body=body, passthrough=statuses)
        if reply.status == 404:
            await self._create_database(collection)
            reply = await self._transport.request(method, path, body=body, passthrough=statuses)
            if reply.status == 404:
                raise BackendError(
                    f"CouchDB at {self._transport.address.redacted}: database {collection!r} "
                    "vanished right after it was created"
                )
        return reply

    async def _create_database(self, collection: str) -> None:
        # 412: another writer created it first, which is just as good.
        await self._transport.request("PUT", _db(collection), passthrough=(412,))
        logger.debug("created CouchDB database %r", collection)

    async def _current_rev(self, collection: str, doc_id: str) -> str | None:
        """The current revision of a live document, or ``None``: HEAD's ETag on CouchDB."""
        if self._etag_is_revision is not False:
            reply = await self._transport.request(
                "HEAD", _doc(collection, doc_id), passthrough=(404,)
            )
            if reply.status == 404:
                return None
            etag = reply.headers.get("ETag", "")
            rev = _rev_of(etag.strip().strip('"'))
            if rev is not None:
                self._etag_is_revision = True
                return rev
            if self._etag_is_revision is None:
                logger.debug("CouchDB ETag is not a revision here; reading revisions by key")
            self._etag_is_revision = False
        key = _json_param(doc_id)
        reply = await self._transport.request(
            "GET", f"{_db(collection)}/_all_docs?key={key}", passthrough=(404,)
        )
        if reply.status == 404:
            return None
        return _live_revs(reply.data).get(doc_id)

    async def _current_revs(self, collection: str, ids: Sequence[str]) -> dict[str, str]:
        """Current revisions of the live documents among ``ids``, in one request."""
        if not ids:
            return {}
        reply = await self._request(
            "POST", f"{_db(collection)}/_all_docs", {"keys": list(ids)}, passthrough=(404,)
        )
        return {} if reply.status == 404 else _live_revs(reply.data)

    # -- the four core operations ------------------------------------------------------------
    async def get(self, collection: str, doc_id: str) -> Record | None:
        reply = await self._transport.request("GET", _doc(collection, doc_id), passthrough=(404,))
        if reply.status == 404:
            return None
        return _record(doc_id, reply.data)

    async def put(
        self,
        collection: str,
        doc_id: str,
        body: Body,
        *,
        if_rev: str | None = None,
        if_absent: bool = False,
    ) -> str:
        path = _doc(collection, doc_id)
        payload = encode_body(body)
        if if_rev is not None:
            if _rev_of(if_rev) is None:
                raise _stale(collection, doc_id)
            payload["_rev"] = if_rev
        reply = await self._write(collection, "PUT", path, payload, passthrough=(409,))
        if reply.status != 409:
            return _new_rev(reply)
        if (if_rev is not None or if_absent) and reply.after_ambiguous:
            raise _outcome_unknown(collection, doc_id)
        if if_rev is not None:
            raise _stale(collection, doc_id)
        if if_absent:
            raise ConflictError(f"document {doc_id!r} already exists in {collection!r}")
        # An unconditional write to an existing id: CouchDB needs its current revision.
        for attempt in range(self._write_attempts):
            rev = await self._current_rev(collection, doc_id)
            if rev is None:
                payload.pop("_rev", None)
            else:
                payload["_rev"] = rev
            reply = await self._write(collection, "PUT", path, payload, passthrough=(409,))
            if reply.status != 409:
                return _new_rev(reply)
            await _backoff(attempt)
        raise ConflictError(
            f"saving {doc_id!r} in {collection!r} lost {self._write_attempts} races to "
            "concurrent writers; giving up"
        )

    async def delete(self, collection: str, doc_id: str, *, if_rev: str | None = None) -> bool:
        path = _doc(collection, doc_id)
        if if_rev is not None:
            if _rev_of(if_rev) is not None:
                reply = await self._transport.request(
                    "DELETE", f"{path}?rev={segment(if_rev)}", passthrough=(400, 404, 409)
                )
                if reply.status < 300:
                    return True
            # Refused: either the document is gone (not an error) or the revision is stale.
            # (pouchdb-server answers 404 for an unknown revision of a live document.)
            if await self._current_rev(collection, doc_id) is None:
                return False
            raise _stale(collection, doc_id)
        for attempt in range(self._write_attempts):
            rev = await self._current_rev(collection, doc_id)
            if rev is None:
                return False
            reply = await self._transport.request(
                "DELETE", f"{path}?rev={segment(rev)}", passthrough=(404, 409)
            )
            if reply.status < 300:
                return True
            await _backoff(attempt)
        raise ConflictError(
            f"deleting {doc_id!r} in {collection!r} lost {self._write_attempts} races to "
            "concurrent writers; giving up"
        )

    async def scan(self, collection: str, *, after: str | None, limit: int) -> ScanPage:
        # Ask for the ``after`` row (if it still exists) plus one more than the page, so
        # the answer itself says whether anything follows.
        wanted = limit + 1 if after is None else limit + 2
        query = f"?include_docs=true&limit={wanted}"
        if after is not None:
            query += "&startkey=" + _json_param(after)
        endkey = await self._endkey()
        if endkey is not None:
            query += "&endkey=" + _json_param(endkey)
        reply = await self._transport.request(
            "GET", f"{_db(collection)}/_all_docs{query}", passthrough=(404,)
        )
        if reply.status == 404:
            return ScanPage([], None)
        rows = [row for row in _rows(reply.data) if row.get("id") != after]
        consumed = rows[:limit]
        records = [
            _record(row["id"], row.get("doc"))
            for row in consumed
            if not str(row.get("id", "_")).startswith("_")  # design documents
        ]
        more = len(rows) > limit
        return ScanPage(records, str(consumed[-1]["id"]) if more and consumed else None)

    async def _endkey(self) -> str | None:
        if isinstance(self._scan_endkey, _Unknown):
            reply = await self._transport.request("GET", "/")
            welcome = reply.data if isinstance(reply.data, dict) else {}
            # pouchdb-server orders ids as UTF-16 strings: this sorts after every id.
            self._scan_endkey = None if "couchdb" in welcome else _UTF16_MAX
        return self._scan_endkey

    # -- fast paths ------------------------------------------------------------------------
    async def get_many(self, collection: str, ids: Sequence[str]) -> dict[str, Record]:
        if not ids:
            return {}
        reply = await self._request(
            "POST",
            f"{_db(collection)}/_all_docs?include_docs=true",
            {"keys": list(ids)},
            passthrough=(404,),
        )
        if reply.status == 404:
            return {}
        found: dict[str, Record] = {}
        for row in _rows(reply.data):
            doc = row.get("doc")
            value = row.get("value")
            if "error" in row or not isinstance(doc, dict):
                continue
            if isinstance(value, dict) and value.get("deleted"):
                continue
            found[str(row["id"])] = _record(str(row["id"]), doc)
        return found

    async def put_many(self, collection: str, writes: Sequence[WriteRequest]) -> list[WriteOutcome]:
        outcomes = [WriteOutcome(write.id) for write in writes]
        payloads: list[Body] = []
        pending: list[int] = []
        for index, write in enumerate(writes):
            payload = encode_body(write.body)
            payload["_id"] = write.id
            payloads.append(payload)
            if write.if_rev is not None:
                if _rev_of(write.if_rev) is None:
                    outcomes[index].error = _stale(collection, write.id)
                    continue
                payload["_rev"] = write.if_rev
            pending.append(index)
        # Unconditional writes go out without a revision first: a batch of new documents
        # then costs one request. Those that exist come back as conflicts; their current
        # revisions are read in one request and only they are sent again.
        upserts = {i for i in pending if writes[i].if_rev is None and not writes[i].if_absent}
        for attempt in range(self._write_attempts):
            results, after_ambiguous = await self._bulk(collection, [payloads[i] for i in pending])
            retry: list[int] = []
            for index, result in zip(pending, results, strict=True):
                error = result.get("error")
                if error is None:
                    outcomes[index].rev = _rev_of(result.get("rev")) or str(result.get("rev"))
                elif error == "conflict" and index in upserts:
                    retry.append(index)
                elif error == "conflict" and after_ambiguous:
                    outcomes[index].error = _outcome_unknown(collection, writes[index].id)
                else:
                    outcomes[index].error = _bulk_error(collection, writes[index].id, result)
            if not retry:
                return outcomes
            pending = retry
            if attempt:
                await _backoff(attempt)  # a concurrent writer got in between: let it finish
            await self._attach_revs(collection, payloads, retry)
        for index in pending:
            outcomes[index].error = ConflictError(
                f"saving {writes[index].id!r} in {collection!r} lost "
                f"{self._write_attempts} races to concurrent writers; giving up"
            )
        return outcomes

    async def _attach_revs(self, collection: str, payloads: list[Body], indexes: list[int]) -> None:
        """Give each unconditional write the current revision of its document (if any)."""
        if not indexes:
            return
        revs = await self._current_revs(collection, [payloads[i]["_id"] for i in indexes])
        for i in indexes:
            rev = revs.get(payloads[i]["_id"])
            if rev is None:
                payloads[i].pop("_rev", None)
            else:
                payloads[i]["_rev"] = rev

    async def delete_many(
        self, collection: str, deletes: Sequence[DeleteRequest]
    ) -> list[WriteOutcome]:
        outcomes = [WriteOutcome(request.id) for request in deletes]
        pending = list(range(len(deletes)))
        for attempt in range(self._write_attempts):
            revs = await self._current_revs(collection, [deletes[i].id for i in pending])
            tombstones: list[Body] = []
            sent: list[int] = []
            for index in pending:
                request = deletes[index]
                current = revs.get(request.id)
                if current is None:
                    continue  # already gone: deleting it succeeds
                if request.if_rev is not None and request.if_rev != current:
                    # Revisions only move forward: a stale one never becomes current again.
                    outcomes[index].error = _stale(collection, request.id)
                    continue
                tombstones.append({"_id": request.id, "_rev": current, "_deleted": True})
                sent.append(index)
            if not sent:
                return outcomes
            # A lost reply is harmless here: a tombstone that landed reads as gone below.
            results, _ = await self._bulk(collection, tombstones, create=False)
            pending = []
            for index, result in zip(sent, results, strict=True):
                error = result.get("error")
                if error in ("conflict", "not_found"):
                    pending.append(index)  # re-read: gone (fine), stale or raced
                elif error is not None:
                    outcomes[index].error = _bulk_error(collection, deletes[index].id, result)
            if not pending:
                return outcomes
            await _backoff(attempt)
        for index in pending:
            outcomes[index].error = ConflictError(
                f"deleting {deletes[index].id!r} in {collection!r} lost "
                f"{self._write_attempts} races to concurrent writers; giving up"
            )
        return outcomes

    async def _bulk(
        self, collection: str, docs: list[Body], *, create: bool = True
    ) -> tuple[list[dict[str, Any]], bool]:
        """POST ``_bulk_docs``: one result per document, in the order sent, and whether an
        earlier attempt of the request may have been applied (``Reply.after_ambiguous``)."""
        if not docs:
            return [], False
        path = f"{_db(collection)}/_bulk_docs"
        if create:
            reply = await self._write(collection, "POST", path, {"docs": docs})
        else:
            reply = await self._request("POST", path, {"docs": docs}, passthrough=(404,))
            if reply.status == 404:
                return [{"error": "not_found"} for _ in docs], False
        results = reply.data
        if not isinstance(results, list) or len(results) != len(docs):
            raise BackendError(
                f"CouchDB at {self._transport.address.redacted} answered _bulk_docs with "
                f"{type(results).__name__}, not one result per document"
            )
        checked = [item if isinstance(item, dict) else {"error": "unknown"} for item in results]
        return checked, reply.after_ambiguous

    async def find(self, collection: str, query: Query, limit: int | None) -> list[Record]:
        base = selector(query)
        most = self._find_page_size
        page_size = most if limit is None else min(most, max(limit, 25))
        fields = _projection(query)
        fixed = equality_fields(base)
        index = choose_index(await self._known_indexes(collection), fixed) if fixed else None
        matches: list[Record] = []
        # CouchDB orders an index's ids by ICU collation, under which two distinct ids can
        # tie; a page starting at a tied id may repeat the other one.
        returned: set[str] = set()
        after: str | None = None
        endkey = await self._endkey()
        while True:
            # With an index the range starts at ``after`` (see find_request): one row more.
            wanted = page_size + 1 if index is not None and after is not None else page_size
            request = find_request(base, after, wanted, endkey, index)
            if fields is not None:
                request["fields"] = fields
            reply = await self._request(
                "POST",
                f"{_db(collection)}/_find",
                request,
                passthrough=(400, 404) if index is not None else (404,),
            )
            if reply.status == 404:
                return matches
            if reply.status == 400 and index is not None:
                # The index went away (or the server cannot use it): page by _id instead.
                logger.warning(
                    "CouchDB could not use index %r of %r (%s); finding without it",
                    index.name,
                    collection,
                    reason_of(reply.data),
                )
                self._indexes.get(collection, set()).discard(index)
                index = None
                continue
            docs = reply.data.get("docs") if isinstance(reply.data, dict) else None
            if not isinstance(docs, list):
                raise BackendError(
                    f"CouchDB at {self._transport.address.redacted} answered _find "
                    "without a list of docs"
                )
            rows = len(docs)
            if index is not None and after is not None:
                docs = [doc for doc in docs if doc.get("_id") != after][:page_size]
            for doc in docs:
                doc_id = str(doc.get("_id", "_"))
                if doc_id.startswith("_") or doc_id in returned:
                    continue
                record = _record(doc_id, doc)
                if query.matches(record.body):
                    matches.append(record)
                    returned.add(doc_id)
                    if limit is not None and len(matches) >= limit:
                        return matches
            if rows < wanted or not docs:
                return matches
            after = str(docs[-1]["_id"])

    async def _known_indexes(self, collection: str) -> set[Index]:
        """The indexes ``find`` may use on ``collection``: listed once, then cached."""
        known = self._indexes.get(collection)
        if known is None:
            reply = await self._transport.request(
                "GET", f"{_db(collection)}/_index", passthrough=(404,)
            )
            listing = reply.data.get("indexes") if isinstance(reply.data, dict) else None
            entries = listing if reply.status != 404 and isinstance(listing, list) else []
            found = (Index.from_listing(entry) for entry in entries if isinstance(entry, dict))
            known = self._indexes[collection] = {index for index in found if index is not None}
        return known

    async def ensure_index(self, collection: str, fields: Sequence[str]) -> None:
        # Mango reads '.' in a field name as nesting: such fields are filtered on the
        # client anyway (see _mango), so an index on them would serve nothing.
        plain = [name for name in fields if PLAIN_FIELD.fullmatch(name)]
        if not plain:
            return
        index = Index.for_fields(plain)
        await self._write(collection, "POST", f"{_db(collection)}/_index", index.definition())
        known = self._indexes.get(collection)
        if known is not None:  # else the first find lists it with the others
            known.add(index)

    async def list_collections(self) -> list[str]:
        # CouchDB 3 serves _all_dbs to server admins only (admin_only_all_dbs).
        reply = await self._transport.request("GET", "/_all_dbs")
        return [name for name in reply.data if isinstance(name, str) and name[:1] != "_"]

    async def drop_collection(self, collection: str) -> None:
        self._indexes.pop(collection, None)
        await self._transport.request("DELETE", _db(collection), passthrough=(404,))


def _json_param(value: str) -> str:
    """A JSON string as a query-string value (startkey, endkey, key)."""
    return quote(json.dumps(value, ensure_ascii=False), safe="")


def _db(collection: str) -> str:
    return "/" + segment(collection)


def _doc(collection: str, doc_id: str) -> str:
    return f"/{segment(collection)}/{segment(doc_id)}"


def _record(doc_id: str, doc: Any) -> Record:
    if not isinstance(doc, dict) or not isinstance(doc.get("_rev"), str):
        raise BackendError(f"CouchDB returned a malformed document for {doc_id!r}")
    rev: str = doc["_rev"]
    return Record(doc_id, rev, decode_body(doc))


def _rows(data: Any) -> list[dict[str, Any]]:
    rows = data.get("rows") if isinstance(data, dict) else None
    if not isinstance(rows, list):
        raise BackendError("CouchDB answered _all_docs without rows")
    return [row for row in rows if isinstance(row, dict)]


def _live_revs(data: Any) -> dict[str, str]:
    revs: dict[str, str] = {}
    for row in _rows(data):
        value = row.get("value")
        if "error" in row or not isinstance(value, dict) or value.get("deleted"):
            continue
        rev = value.get("rev")
        if isinstance(rev, str):
            revs[str(row.get("id"))] = rev
    return revs


def _new_rev(reply: Reply) -> str:
    rev = reply.data.get("rev") if isinstance(reply.data, dict) else None
    if not isinstance(rev, str):
        raise BackendError("CouchDB acknowledged a write without a revision")
    return rev


def _stale(collection: str, doc_id: str) -> ConflictError:
    return ConflictError(f"stale revision for document {doc_id!r} in {collection!r}")


def _outcome_unknown(collection: str, doc_id: str) -> WriteOutcomeUnknownError:
    return WriteOutcomeUnknownError(
        f"the conditional write of {doc_id!r} in {collection!r} may or may not have been "
        "applied: an attempt was lost in transit and its retry met a conflict; read the "
        "document to see"
    )


def _bulk_error(collection: str, doc_id: str, result: dict[str, Any]) -> AsyncDBError:
    error, reason = result.get("error"), result.get("reason")
    if error == "conflict":
        return ConflictError(f"document {doc_id!r} in {collection!r}: revision conflict")
    if error in ("too_large", "document_too_large"):
        return DocumentTooLargeError(f"CouchDB refused document {doc_id!r} as too large")
    if error in ("unauthorized", "forbidden"):
        return AuthenticationError(f"CouchDB refused to write {doc_id!r}: {error}: {reason}")
    return BackendError(f"CouchDB refused document {doc_id!r}: {error}: {reason}")


def _projection(query: Query) -> list[str] | None:
    """Mango ``fields`` for a projected ``find``: what the caller wants plus what the
    client-side filter and the number decoding need; ``None`` fetches whole documents."""
    if query.fields is None:
        return None
    wanted = [*query.fields, *(condition.field for condition in query.conditions)]
    if not all(PLAIN_FIELD.fullmatch(name) for name in wanted):
        return None
    return list(dict.fromkeys(["_id", "_rev", MARKER, *wanted]))


async def _backoff(attempt: int) -> None:
    """A short random pause before re-reading a revision after losing a race."""
    await asyncio.sleep(random.uniform(0, min(0.1, 0.002 * 2**attempt)))
