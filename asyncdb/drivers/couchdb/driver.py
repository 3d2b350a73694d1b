"""``CouchDBDriver``: asyncdb over the CouchDB HTTP API (3.x), natively async via aiohttp.

How the contract maps (details in docs/providers/couchdb.md):
- a collection is a database, created by the first write that finds it missing (the
  write is then retried once), so a normal operation is one round trip;
- a caller's id is stored under itself unless CouchDB cannot hold it (``_ids``);
- a revision is CouchDB's own ``_rev``; preconditions are checked by the server, and a
  conditional write on an id the driver has not seen yet is checked first, because
  CouchDB 3.x may create a never-existing id from a made-up revision (``KnownIds``);
- scans page ``_all_docs`` by key (``startkey``), never by ``skip`` or bookmarks;
- ``find`` reads the views ``ensure_index`` makes, keyed so that CouchDB's collation
  orders them as the contract does (``_views``), or sends a Mango selector for an
  unordered equality query; either way it filters the answer again (``_query``);
- bulk calls use ``_all_docs`` with ``keys`` and ``_bulk_docs`` (``_bulk``).
"""

from __future__ import annotations

import dataclasses
import logging
import ssl
from typing import TYPE_CHECKING

from asyncdb._retry import Attempts
from asyncdb.drivers.base import Body, FirstTimes, Record, ScanPage
from asyncdb.drivers.couchdb import _ids
from asyncdb.drivers.couchdb._bulk import BulkOps
from asyncdb.drivers.couchdb._codec import dumps, encode_body, stamp
from asyncdb.drivers.couchdb._core import (
    DEFAULT_MAX_DOCUMENT_SIZE,
    RACES,
    KnownIds,
    db_path,
    doc_path,
    json_param,
    new_rev,
    rev_of,
    rows_of,
)
from asyncdb.drivers.couchdb._errors import lost_races, outcome_unknown, raise_if_unknown
from asyncdb.drivers.couchdb._query import FindOps
from asyncdb.drivers.couchdb._transport import Reply, Transport, parse_server_url, segment
from asyncdb.drivers.couchdb.settings import CouchDBSettings
from asyncdb.errors import (
    AuthenticationError,
    BackendUnavailableError,
    ConfigurationError,
    ConflictError,
    WriteOutcomeUnknownError,
)

if TYPE_CHECKING:
    from typing import Self

    import aiohttp

    from asyncdb._settings import Settings

__all__ = ["CouchDBDriver"]

logger = logging.getLogger("asyncdb")

#: Room for the ``_rev`` CouchDB adds to a stored document (``"_rev":"N-<32 hex>",``).
_REV_ALLOWANCE = 64


class CouchDBDriver(BulkOps, FindOps):
    """Documents in CouchDB databases, one database per collection.

    ``url`` is the server's base URL (credentials in it are accepted; ``user`` and
    ``password`` override them). ``pool_size`` bounds the open connections;
    ``write_attempts`` bounds how often an unconditional write or delete re-reads the
    current revision after losing a race to a concurrent writer; ``find_page_size`` is the
    most documents one ``_find`` request asks for.

    ``client`` is an ``aiohttp.ClientSession`` you opened: every request then goes through
    it, still to ``url`` and with this driver's credentials, timeout and JSON headers
    (``pool_size``, ``verify_tls`` and ``ssl_context`` describe the driver's own session,
    so configure the pool and TLS on yours). The ownership rule: what the library did not
    open, it does not close. ``aclose()`` closes the session the driver opened itself and
    never yours; it stays open and usable, and closing it is yours to do, after the
    driver's last request. The driver turns off aiohttp's silent resend of an idempotent
    request on a dropped connection on that session too, because such a resend would hide
    that a write may have landed.
    """

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
        client: aiohttp.ClientSession | None = None,
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
            client=client,
        )
        self._write_attempts = write_attempts
        self._find_page_size = find_page_size
        self._etag_is_revision = None
        self._known = KnownIds()
        # What find knows of each database's indexes (``_query``, ``_viewops``).
        self._indexes = {}
        self._views = {}
        self._views_listed = set()
        self._warned_shapes = FirstTimes()

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        """Build from ``COUCHDB_URL`` (required), ``COUCHDB_USER``, ``COUCHDB_PASSWORD``,
        ``DATABASE_REQUEST_TIMEOUT`` and ``DATABASE_MAX_RETRIES``."""
        own = CouchDBSettings.of(settings)
        if not own.couchdb_url:
            raise ConfigurationError("COUCHDB_URL is not set (e.g. http://127.0.0.1:5984)")
        password = own.couchdb_password
        return cls(
            own.couchdb_url.get_secret_value(),
            user=own.couchdb_user,
            password=password.get_secret_value() if password is not None else None,
            request_timeout=settings.request_timeout,
            connect_timeout=min(10.0, settings.request_timeout),
            max_retries=settings.max_retries,
        )

    def describe(self) -> str:
        address = self._transport.address
        user = f" as {address.user!r}" if address.user is not None else ""
        return f"couchdb {address.redacted}{user}"

    # -- lifecycle -------------------------------------------------------------------------
    async def open(self) -> None:
        self._transport.session()
        limit = await self._max_document_size()
        self.limits = dataclasses.replace(type(self).limits, native_document_bytes=limit)

    async def _max_document_size(self) -> int:
        """The server's ``[couchdb] max_document_size`` (readable by server admins only);
        CouchDB's default when it cannot be read."""
        try:
            reply = await self._transport.request(
                "GET",
                "/_node/_local/_config/couchdb/max_document_size",
                passthrough=(400, 401, 403, 404, 405),
            )
        except BackendUnavailableError:
            return DEFAULT_MAX_DOCUMENT_SIZE
        value = reply.data
        if reply.status == 200 and isinstance(value, str) and value.strip().isdigit():
            return int(value.strip())
        return DEFAULT_MAX_DOCUMENT_SIZE

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

    def native_document_size(self, doc_id: str, body: Body) -> int:
        """The stored JSON, as CouchDB measures ``max_document_size`` (the document's
        JSON bytes), counted with the marker, the stored ``_id`` and room for ``_rev``,
        so it is never below CouchDB's own figure."""
        key = _ids.encode(doc_id)
        payload = encode_body(body, doc_id if key.startswith(_ids.DIGEST) else None)
        stamp(payload, None)
        payload["_id"] = key
        return len(dumps(payload).encode()) + _REV_ALLOWANCE

    # -- the four core operations ------------------------------------------------------------
    async def get(self, collection: str, doc_id: str) -> Record | None:
        key = _ids.encode(doc_id)
        reply = await self._transport.request("GET", doc_path(collection, key), passthrough=(404,))
        if reply.status == 404:
            return None
        return self._record(collection, key, reply.data, doc_id)

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
        path = doc_path(collection, key)
        payload = encode_body(body, doc_id if key.startswith(_ids.DIGEST) else None)
        stamp(payload, if_rev, self._known.generation(collection, key))
        if if_rev is not None:
            if rev_of(if_rev) is None:
                raise self._stale(collection, doc_id)
            # CouchDB 3.x answers a made-up revision on an id it never held by creating the
            # document (a "phantom"): an id not seen yet is checked first.
            known = (collection, key) in self._known
            if not known and await self._current_rev(collection, key) != if_rev:
                raise self._stale(collection, doc_id)
        # One record of this write's attempts, across every request made for it: a 409
        # after an attempt that may have landed may be that attempt's own doing.
        attempts = Attempts()
        reply = await self._write(
            collection, "PUT", path, payload, attempts=attempts, passthrough=(409,)
        )
        if reply.status != 409:
            rev = new_rev(reply)
            self._known.add(collection, key, rev)
            return rev if if_rev is not None else await self._restamp(collection, key, payload, rev)
        self._known.add(collection, key)  # a 409 means the id has a revision tree
        if (if_rev is not None or if_absent) and attempts.ambiguous:
            raise outcome_unknown(collection, doc_id)
        if if_rev is not None:
            raise self._stale(collection, doc_id)
        if if_absent:
            raise ConflictError(f"document {doc_id!r} already exists in {collection!r}")
        # An unconditional write to an existing id: CouchDB needs its current revision.
        # If the first PUT may have landed (its answer lost), a failure from here on
        # leaves the outcome unknown.
        try:
            for attempt in range(self._write_attempts):
                current = await self._current_rev(collection, key)
                stamp(payload, current, self._known.generation(collection, key))
                reply = await self._write(
                    collection, "PUT", path, payload, attempts=attempts, passthrough=(409,)
                )
                if reply.status != 409:
                    rev = new_rev(reply)
                    self._known.add(collection, key, rev)
                    return await self._restamp(collection, key, payload, rev)
                await RACES.back_off(attempt)
        except BackendUnavailableError as exc:
            raise_if_unknown(attempts.ambiguous, exc, collection, doc_id)
            raise
        raise lost_races("saving", collection, doc_id, self._write_attempts)

    async def delete(self, collection: str, doc_id: str, *, if_rev: str | None = None) -> bool:
        key = _ids.encode(doc_id)
        path = doc_path(collection, key)
        attempts = Attempts()
        if if_rev is not None:
            if rev_of(if_rev) is not None:
                # A DELETE with a made-up revision on an id never held is the same phantom
                # case as in ``put``: an id not seen yet is checked first.
                if (collection, key) not in self._known:
                    current = await self._current_rev(collection, key)
                    if current is None:
                        return False
                    if current != if_rev:
                        raise self._stale(collection, doc_id)
                reply = await self._transport.request(
                    "DELETE",
                    f"{path}?rev={segment(if_rev)}",
                    passthrough=(400, 404, 409),
                    attempts=attempts,
                )
                if reply.status < 300:
                    self._known.add(collection, key, _rev_in(reply))
                    return True
            # Refused: either the document is gone (not an error) or the revision is
            # stale. (pouchdb-server answers 404 for an unknown revision of a live one.)
            try:
                current = await self._current_rev(collection, key)
            except BackendUnavailableError as exc:
                raise_if_unknown(attempts.ambiguous, exc, collection, doc_id)
                raise
            if current is None:
                return False
            if attempts.ambiguous:
                # The lost attempt may have deleted it and another writer re-created it
                # since: a conflict would be a guess.
                raise WriteOutcomeUnknownError(
                    f"the delete of {doc_id!r} in {collection!r} may or may not have been "
                    "applied: an attempt was lost in transit and the document is there again; "
                    "read it to see"
                )
            raise self._stale(collection, doc_id)
        try:
            for attempt in range(self._write_attempts):
                rev = await self._current_rev(collection, key)
                if rev is None:
                    return False
                reply = await self._transport.request(
                    "DELETE",
                    f"{path}?rev={segment(rev)}",
                    passthrough=(404, 409),
                    attempts=attempts,
                )
                if reply.status < 300:
                    self._known.add(collection, key, _rev_in(reply))
                    return True
                await RACES.back_off(attempt)
        except BackendUnavailableError as exc:
            raise_if_unknown(attempts.ambiguous, exc, collection, doc_id)
            raise
        raise lost_races("deleting", collection, doc_id, self._write_attempts)

    async def scan(self, collection: str, *, after: str | None, limit: int) -> ScanPage:
        start = None if after is None else _ids.encode(after)
        endkey = await self._endkey()
        records: list[Record] = []
        while True:
            # Ask for the ``start`` row (if it still exists) plus one more than the page,
            # so the answer itself says whether anything follows.
            query = f"?include_docs=true&limit={limit + 1 if start is None else limit + 2}"
            if start is not None:
                query += "&startkey=" + json_param(start)
            if endkey is not None:
                query += "&endkey=" + json_param(endkey)
            reply = await self._transport.request(
                "GET", f"{db_path(collection)}/_all_docs{query}", passthrough=(404,)
            )
            if reply.status == 404:
                return ScanPage([], None)
            rows = [row for row in rows_of(reply.data) if row.get("id") != start]
            consumed = rows[:limit]
            for row in consumed:
                record = self._record(collection, str(row.get("id")), row.get("doc"), None)
                if record is not None:  # design documents and keys not asyncdb's
                    records.append(record)
            if len(rows) <= limit:
                return ScanPage(records, None)
            if records:
                # The next page resumes after the last caller's id, which re-encodes to
                # its key; skipped rows after it are read (and skipped) again.
                return ScanPage(records, records[-1].id)
            start = str(consumed[-1]["id"])  # a page of skipped rows only: read on

    # -- collections -----------------------------------------------------------------------
    async def list_collections(self) -> list[str]:
        # CouchDB 3 serves _all_dbs to server admins only (admin_only_all_dbs).
        reply = await self._transport.request("GET", "/_all_dbs")
        return [name for name in reply.data if isinstance(name, str) and name[:1] != "_"]

    async def drop_collection(self, collection: str) -> None:
        self._forget_indexes(collection)
        self._known.forget_database(collection)
        await self._transport.request("DELETE", db_path(collection), passthrough=(404,))


def _rev_in(reply: Reply) -> object:
    """The revision an answer names (a tombstone's after a delete), if any."""
    return reply.data.get("rev") if isinstance(reply.data, dict) else None
