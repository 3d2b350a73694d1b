"""``FirestoreDriver``: asyncdb on Google Cloud Firestore (native mode) over gRPC.

Round trips: ``get``, ``put`` (also conditional) and ``delete`` cost one RPC each;
``get_many`` one ``BatchGetDocuments``; ``put_many`` / ``delete_many`` one ``BatchWrite``
per 500 writes (it reports one status per write and is not atomic, so one conflict fails
only its document); ``scan`` and ``find`` one ``RunQuery`` per page. Collections need no
creation in Firestore. Writes also read the collection's index registry when the cached
copy is older than ``index_refresh_seconds`` (``_registry``), and add the key of every
registered index (``_indexes``).

Ids are mapped to Firestore document ids by ``_ids`` (natively valid ids as themselves),
bodies by ``_codec``. Revisions are the document's ``update_time``
(``_codec.format_revision``); conditional writes send it back as an ``update_time``
precondition, so the check is atomic on the server. The connection, its ownership and the
retry of every RPC are ``_transport``'s; the bulk operations are ``_bulk``'s.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

from google.api_core import exceptions as gexc
from google.cloud.firestore_v1 import types
from google.cloud.firestore_v1.services.firestore import FirestoreAsyncClient

from asyncdb._retry import Attempts, RetryPolicy
from asyncdb.drivers._keyplan import KeyLayout
from asyncdb.drivers.base import (
    Body,
    Driver,
    DriverLimits,
    FirstTimes,
    Record,
    ScanPage,
    WriteOutcome,
)
from asyncdb.drivers.firestore import _errors, _ids, _size
from asyncdb.drivers.firestore._bulk import MAX_BATCH_WRITES, BulkMixin, batch_write
from asyncdb.drivers.firestore._codec import format_revision, parse_revision
from asyncdb.drivers.firestore._indexes import IndexMixin
from asyncdb.drivers.firestore._query import build_query, run_query
from asyncdb.drivers.firestore._records import addressable, fill_document, fill_write, record_of
from asyncdb.drivers.firestore._registry import REGISTRY_COLLECTION, Registry
from asyncdb.drivers.firestore._transport import (
    Connection,
    ConnectionConfig,
    Transport,
    check_client_config,
)
from asyncdb.drivers.firestore.settings import FirestoreSettings
from asyncdb.errors import ConfigurationError, ConflictError

if TYPE_CHECKING:
    from typing import Self

    from asyncdb._settings import Settings

__all__ = ["FirestoreDriver"]

logger = logging.getLogger("asyncdb")

# Raw protobuf classes: building them directly skips proto-plus's copies and conversions;
# ``wrap`` hands them to the generated client without copying.
_GetDocumentRequest: Final[Any] = types.GetDocumentRequest.pb()
_CommitRequest: Final[Any] = types.CommitRequest.pb()
_Write: Final[Any] = types.Write.pb()
_Document: Final[Any] = types.Document.pb()


class FirestoreDriver(IndexMixin, BulkMixin, Driver):
    """Documents in top-level Firestore collections (the prefix is already in the name).

    ``project``: the Google Cloud project (on the emulator it may be omitted);
    ``database``: the Firestore database id; ``emulator_host``: ``host:port`` of an
    emulator (then no credentials are used); ``credentials_file`` / ``credentials``:
    explicit credentials instead of application-default ones; ``request_timeout`` in
    seconds per RPC; ``max_retries`` of transient failures (``retry_base_delay``: the first
    back-off ceiling); ``page_size``: documents per ``find`` query page;
    ``index_refresh_seconds``: how old the cached registry of a collection's indexes may
    be before a write or ``find`` reads it again (see docs/providers/firestore.md).

    ``client``: a ``FirestoreAsyncClient`` (``google.cloud.firestore_v1.services.
    firestore``) that you opened, used instead of one the driver opens. Its channel and
    credentials are used as they are (``credentials`` and ``credentials_file`` are then
    ignored); ``project`` must be given unless ``emulator_host`` names the emulator the
    client talks to (which also adds the emulator's owner token to each call).

    Ownership: what the driver did not open, it does not close. ``aclose()`` closes the
    client the driver created, never a ``client`` you passed (nor your ``credentials``):
    it stays open and usable, and closing it is yours. The driver is used on the one event
    loop it was opened on, with one connection, opened by the first call.
    """

    name = "firestore"
    settings_class = FirestoreSettings
    limits = DriverLimits(
        max_get_batch=300,
        max_write_batch=MAX_BATCH_WRITES,
        max_concurrency=8,
        scan_page_size=300,
        native_document_bytes=_size.NATIVE_DOCUMENT_BYTES,
    )

    def __init__(
        self,
        *,
        project: str | None = None,
        database: str = "(default)",
        emulator_host: str | None = None,
        credentials_file: str | None = None,
        credentials: Any = None,
        request_timeout: float = 30.0,
        max_retries: int = 4,
        page_size: int = 300,
        retry_base_delay: float = 0.05,
        client: FirestoreAsyncClient | None = None,
        index_refresh_seconds: float = 30.0,
    ) -> None:
        if client is not None and not isinstance(client, FirestoreAsyncClient):
            raise TypeError(
                "FirestoreDriver(client=...) takes a google.cloud.firestore_v1.services."
                f"firestore.FirestoreAsyncClient, not {type(client).__name__}"
            )
        config = ConnectionConfig(
            project=project or None,
            database=database or "(default)",
            emulator_host=emulator_host or None,
            credentials_file=credentials_file or None,
            credentials=credentials,
        )
        if client is not None:
            check_client_config(config)
        if not index_refresh_seconds >= 0:  # also refuses NaN
            raise ConfigurationError(
                f"index_refresh_seconds must be 0 or more, not {index_refresh_seconds!r}"
            )
        self._transport = Transport(
            config,
            policy=RetryPolicy(max_retries=max_retries, base_delay=retry_base_delay),
            timeout=request_timeout,
            client=client,
        )
        self._page_size = page_size
        self._registry = Registry(self._transport, float(index_refresh_seconds))
        self._stale_warned = FirstTimes()

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        """Build from ``Settings``. Without ``FIRESTORE_EMULATOR_HOST`` the project comes
        from ``GOOGLE_CLOUD_PROJECT`` or the credentials; if neither names one, the first
        connection (``open()``) raises ``ConfigurationError`` naming GOOGLE_CLOUD_PROJECT."""
        own = FirestoreSettings.of(settings)
        return cls(
            project=own.google_cloud_project,
            database=own.firestore_database,
            emulator_host=own.firestore_emulator_host,
            credentials_file=own.google_application_credentials,
            request_timeout=settings.request_timeout,
            max_retries=settings.max_retries,
            index_refresh_seconds=own.index_refresh_seconds,
        )

    def describe(self) -> str:
        config = self._transport.config
        where = f"firestore {config.project or '<default project>'}/{config.database}"
        return f"{where} (emulator {config.emulator_host})" if config.emulator_host else where

    # -- connection ----------------------------------------------------------------------
    async def open(self) -> None:
        await self._transport.connection()

    async def aclose(self) -> None:
        await self._transport.close()

    async def ping(self) -> None:
        await self.get("asyncdb-ping", "ping")

    # -- helpers --------------------------------------------------------------------------
    async def _commit(self, conn: Connection, request: Any) -> Any:
        response = await conn.client.commit(
            request=types.CommitRequest.wrap(request),
            retry=None,
            timeout=self._transport.timeout,
            metadata=conn.metadata,
        )
        return types.CommitResponse.pb(response)

    async def _run_query(self, conn: Connection, structured: Any) -> list[Any]:
        return await run_query(self._transport, conn, structured)

    def native_document_size(self, doc_id: str, body: Body) -> int:
        """Firestore's storage size of the document as this driver stores it (``_size``);
        the collection id counts at its longest (128 bytes), since it is not passed."""
        key = _ids.stored_id(doc_id)
        document = _Document()
        fill_document(document, key, doc_id, body)
        return _size.document_size(key, document.fields, _size.MAX_COLLECTION_ID_BYTES)

    # -- the four core operations ----------------------------------------------------------
    async def get(self, collection: str, doc_id: str) -> Record | None:
        conn = await self._transport.connection()
        request = types.GetDocumentRequest.wrap(
            _GetDocumentRequest(name=conn.name(collection, doc_id))
        )
        timeout = self._transport.timeout

        async def call() -> Any:
            try:
                return await conn.client.get_document(
                    request=request, retry=None, timeout=timeout, metadata=conn.metadata
                )
            except gexc.NotFound:
                return None

        document = await self._transport.call(f"get {collection}/{doc_id}", call)
        if document is None:
            return None
        record = record_of(types.Document.pb(document))
        # A digest key names the document only if it holds the very id asked for.
        return record if record is not None and record.id == doc_id else None

    async def put(
        self,
        collection: str,
        doc_id: str,
        body: Body,
        *,
        if_rev: str | None = None,
        if_absent: bool = False,
    ) -> str:
        conn = await self._transport.connection()
        layouts = await self._write_layouts(conn, collection)
        try:
            return await self._put(conn, collection, doc_id, body, if_rev, if_absent, layouts)
        except ConflictError:
            if if_rev is None:
                raise
            # The revision may be one the document kept while asyncdb added index keys.
            stamp = await self._kept_stamp(conn, collection, doc_id, if_rev)
            if stamp is None:
                raise
            return await self._put(conn, collection, doc_id, body, None, False, layouts, stamp)

    async def _put(
        self,
        conn: Connection,
        collection: str,
        doc_id: str,
        body: Body,
        if_rev: str | None,
        if_absent: bool,
        layouts: Sequence[KeyLayout],
        stamp: Any = None,
    ) -> str:
        """One commit of a full replace (``stamp``: an ``update_time`` precondition)."""
        request = _CommitRequest(database=conn.database_path)
        write = request.writes.add()
        fill_write(write, conn.documents_path, collection, doc_id, body, if_rev, if_absent, layouts)
        if stamp is not None:
            write.current_document.update_time.CopyFrom(stamp)
        response = await self._transport.call(
            f"put {collection}/{doc_id}",
            lambda: self._commit(conn, request),
            attempts=Attempts(),
            conflict_may_be_own=if_rev is not None or if_absent or stamp is not None,
        )
        return format_revision(response.write_results[0].update_time)

    async def delete(self, collection: str, doc_id: str, *, if_rev: str | None = None) -> bool:
        conn = await self._transport.connection()
        if if_rev is None:
            return await self._delete(conn, collection, doc_id, None, None)
        stamp = parse_revision(if_rev)
        if stamp is None:
            return await self._missing_or_conflict(collection, doc_id)
        try:
            return await self._delete(conn, collection, doc_id, if_rev, stamp)
        except ConflictError:
            # The revision may be one the document kept while asyncdb added index keys.
            kept = await self._kept_stamp(conn, collection, doc_id, if_rev)
            if kept is None:
                raise
            return await self._delete(conn, collection, doc_id, if_rev, kept)

    async def _delete(
        self, conn: Connection, collection: str, doc_id: str, if_rev: str | None, stamp: Any
    ) -> bool:
        """One commit of a delete (``stamp``: an ``update_time`` precondition)."""
        request = _CommitRequest(database=conn.database_path)
        write = request.writes.add()
        write.delete = conn.name(collection, doc_id)
        if stamp is None:
            # exists=true makes Firestore tell whether there was a document (NOT_FOUND).
            write.current_document.exists = True
        else:
            write.current_document.update_time.CopyFrom(stamp)

        async def call() -> bool | None:
            try:
                await self._commit(conn, request)
            except gexc.NotFound:
                return False
            except gexc.FailedPrecondition:
                if if_rev is None:
                    raise
                return None  # stale revision, or no document at all: look
            return True

        where = f"delete {collection}/{doc_id}"
        attempts = Attempts()
        deleted = await self._transport.call(where, call, attempts=attempts)
        if deleted is None:
            lost = where if attempts.ambiguous else None
            return await self._missing_or_conflict(collection, doc_id, lost)
        return bool(deleted)

    async def _missing_or_conflict(
        self, collection: str, doc_id: str, lost: str | None = None
    ) -> bool:
        """After a failed ``update_time`` precondition: ``False`` if there is no document
        (a missing document is not a conflict), else ``ConflictError`` — or, if an attempt
        whose answer was lost (``lost``: where) may have deleted it before another program
        created it again, ``WriteOutcomeUnknownError``."""
        if await self.get(collection, doc_id) is None:
            return False
        if lost is not None:
            raise _errors.outcome_unknown(lost)
        raise ConflictError(f"stale revision for document {doc_id!r} in {collection!r}")

    async def scan(self, collection: str, *, after: str | None, limit: int) -> ScanPage:
        conn = await self._transport.connection()
        cursor = None if after is None else _ids.stored_id(after)
        while True:
            structured = build_query(conn.documents_path, collection, after=cursor, limit=limit)
            documents = await self._run_query(conn, structured)
            records = [record for record in map(addressable, documents) if record]
            if len(documents) < limit:
                return ScanPage(records, None)
            if records:
                # Resume after the last record returned: documents after it that no
                # caller's id names are skipped again on the next page.
                return ScanPage(records, records[-1].id)
            cursor = documents[-1].name.rpartition("/")[2]

    # -- collections (queries are IndexMixin's, the bulk operations BulkMixin's) -------
    async def list_collections(self) -> list[str]:
        conn = await self._transport.connection()

        async def call() -> list[str]:
            pager = await conn.client.list_collection_ids(
                request={"parent": conn.documents_path},
                retry=None,
                timeout=self._transport.timeout,
                metadata=conn.metadata,
            )
            # The index registry is asyncdb's, never a caller's collection.
            return [str(name) async for name in pager if name != REGISTRY_COLLECTION]

        return await self._transport.call("list collections", call)

    async def drop_collection(self, collection: str) -> None:
        conn = await self._transport.connection()
        while True:
            structured = build_query(
                conn.documents_path,
                collection,
                after=None,
                limit=MAX_BATCH_WRITES,
                keys_only=True,
            )
            documents = await self._run_query(conn, structured)
            if not documents:
                break
            prepared = [(index, _Write(delete=doc.name)) for index, doc in enumerate(documents)]
            outcomes = [WriteOutcome(doc.name) for doc in documents]
            await batch_write(
                self._transport,
                conn,
                f"drop_collection {collection}",
                prepared,
                outcomes,
                None,
            )
            for outcome in outcomes:
                if outcome.error is not None:
                    raise outcome.error
            if len(documents) < MAX_BATCH_WRITES:
                break
        # Last: a drop cut short leaves the registry of the documents that are left.
        await self._registry.drop(conn, collection)
