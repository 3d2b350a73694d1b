"""``DynamoDBDriver``: asyncdb over Amazon DynamoDB through one aioboto3 low-level client.

A collection is a table (named by the face, prefix included) with one string hash key
``_id`` and on-demand billing, created by the first write that finds it missing. The
revision is a random token in the ``_rev`` attribute, checked by condition expressions.
Bulk writes without a precondition go through BatchWriteItem, reads through BatchGetItem;
``find`` reads a global secondary index that ``ensure_index`` made for the query, or scans
with a filter expression and pages until it has enough matches.

The client and its retries live in ``_transport``, the table lifecycle in ``_tables``,
the encoding in ``_codec``, the filter expressions in ``_query``, the batch calls in
``_bulk``, the indexes in ``_registry`` (which exist, the keys they add to an item),
``_indexes`` (making one) and ``_native`` (``find``), and the error knowledge in
``_errors``; this module holds the operations. Every write first reads the table's index
registry when the driver's copy is older than ``index_refresh_seconds``, and writes the
keys of every index in it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Final, TypeVar
from urllib.parse import urlsplit

from asyncdb._retry import Attempts, RetryPolicy, outcome_unknown
from asyncdb.drivers.base import Body, Driver, DriverLimits, FirstTimes, Record, ScanPage
from asyncdb.drivers.dynamodb._bulk import BATCH_GET_KEYS, BATCH_WRITE_ITEMS, BulkOperations
from asyncdb.drivers.dynamodb._codec import ID_ATTRIBUTE, ORIGINAL_ID_ATTRIBUTE, REV_ATTRIBUTE
from asyncdb.drivers.dynamodb._errors import ConditionFailed, TableMissing
from asyncdb.drivers.dynamodb._ids import caller_id
from asyncdb.drivers.dynamodb._indexes import IndexOperations
from asyncdb.drivers.dynamodb._items import (
    ITEM_LIMIT,
    build_item,
    item_size,
    key,
    new_rev,
    record,
    rev_condition,
    stored_rev,
)
from asyncdb.drivers.dynamodb._native import NativeQueries
from asyncdb.drivers.dynamodb._registry import Registry
from asyncdb.drivers.dynamodb._tables import Tables
from asyncdb.drivers.dynamodb._transport import Transport
from asyncdb.drivers.dynamodb.settings import DynamoDBSettings
from asyncdb.errors import (
    AsyncDBError,
    BackendUnavailableError,
    ConfigurationError,
    ConflictError,
    WriteOutcomeUnknownError,
)

if TYPE_CHECKING:
    from typing import Self

    from asyncdb._settings import Settings

__all__ = ["DynamoDBDriver"]

T = TypeVar("T")

_ID_NAMES: Final = {"#i": ID_ATTRIBUTE}
_BOTH_NAMES: Final = {"#i": ID_ATTRIBUTE, "#r": REV_ATTRIBUTE}


def _redacted(url: str | None) -> str:
    if not url:
        return "AWS"
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


class DynamoDBDriver(BulkOperations, IndexOperations, NativeQueries, Driver):
    """Documents in DynamoDB tables, one table per collection.

    Credentials follow the standard AWS chain unless given here. Tunables (all optional):
    ``max_connections`` (HTTP pool size), ``write_concurrency`` (parallel conditional
    writes inside one bulk call), ``find_page_size`` (the first Scan ``Limit`` of a
    ``find`` with a limit; it grows fourfold per page), ``backoff_base`` / ``backoff_cap``
    (seconds of the jittered exponential back-off), ``table_wait`` (seconds to wait for a
    new table to become ACTIVE, or a dropped one to finish deleting), ``index_wait``
    (seconds ``ensure_index`` waits for a new GSI to become ACTIVE: on AWS it backfills the
    table's items first), ``index_refresh_seconds`` (how old the driver's copy of a table's
    index registry may get before a write or a find reads it again).

    ``client`` is an aiobotocore DynamoDB client the caller has entered (``async with
    session.client("dynamodb") as client``) and owns. **What the driver did not open, it
    does not close**: ``aclose()`` closes only a client the driver created itself, and a
    given client stays open and usable after it. A given client brings its own endpoint,
    region, credentials, timeouts and connection pool, so ``endpoint_url``, the keys and
    ``profile`` cannot be given with it, and ``region``, ``request_timeout`` and
    ``max_connections`` do not apply. Turn botocore's retries off in it
    (``Config(retries={"total_max_attempts": 1})``): the driver retries, and only its own
    retries tell it that an earlier attempt of a write may have landed.
    """

    name = "dynamodb"
    settings_class = DynamoDBSettings
    limits = DriverLimits(
        max_get_batch=BATCH_GET_KEYS,
        max_write_batch=BATCH_WRITE_ITEMS,
        max_concurrency=8,
        scan_page_size=1000,
        native_document_bytes=ITEM_LIMIT,
    )

    def __init__(
        self,
        *,
        region: str = "us-east-1",
        endpoint_url: str | None = None,
        aws_access_key_id: str | None = None,
        aws_secret_access_key: str | None = None,
        aws_session_token: str | None = None,
        profile: str | None = None,
        request_timeout: float = 30.0,
        max_retries: int = 4,
        max_connections: int = 64,
        write_concurrency: int = 16,
        find_page_size: int = 100,
        backoff_base: float = 0.05,
        backoff_cap: float = 2.0,
        table_wait: float = 120.0,
        index_wait: float = 3600.0,
        index_refresh_seconds: float = 30.0,
        client: Any = None,
    ) -> None:
        if not index_refresh_seconds >= 0:  # also refuses NaN
            raise ConfigurationError("index_refresh_seconds must be a number >= 0")
        if (aws_access_key_id is None) != (aws_secret_access_key is None):
            missing = (
                "AWS_SECRET_ACCESS_KEY" if aws_secret_access_key is None else ("AWS_ACCESS_KEY_ID")
            )
            raise ConfigurationError(f"{missing} is not set (both AWS keys are needed together)")
        if client is not None:
            _refuse_overridden(
                endpoint_url=endpoint_url,
                aws_access_key_id=aws_access_key_id,
                aws_session_token=aws_session_token,
                profile=profile,
            )
        session_kwargs: dict[str, str] = {"region_name": region}
        if aws_access_key_id is not None and aws_secret_access_key is not None:
            session_kwargs["aws_access_key_id"] = aws_access_key_id
            session_kwargs["aws_secret_access_key"] = aws_secret_access_key
        if aws_session_token is not None:
            session_kwargs["aws_session_token"] = aws_session_token
        if profile is not None:
            session_kwargs["profile_name"] = profile
        self._transport = Transport(
            policy=RetryPolicy(
                max_retries=max_retries, base_delay=backoff_base, max_delay=backoff_cap
            ),
            session_kwargs=session_kwargs,
            endpoint_url=endpoint_url,
            request_timeout=request_timeout,
            max_connections=max_connections,
            client=client,
        )
        self._tables = Tables(self._transport, table_wait)
        self._call = self._transport.call
        self._write_concurrency = write_concurrency
        self._find_page_size = find_page_size
        self._index_wait = index_wait
        self._registry = Registry(self._transport, index_refresh_seconds)
        self._index_locks: dict[str, asyncio.Lock] = {}
        self._stale_warned = FirstTimes()

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        """Region, endpoint, keys and timeouts from ``Settings`` (DYNAMODB_*, AWS_*)."""
        own = DynamoDBSettings.of(settings)
        secret = own.aws_secret_access_key
        token = own.aws_session_token
        return cls(
            region=own.dynamodb_region,
            endpoint_url=own.dynamodb_endpoint_url,
            aws_access_key_id=own.aws_access_key_id,
            aws_secret_access_key=secret.get_secret_value() if secret else None,
            aws_session_token=token.get_secret_value() if token else None,
            profile=own.aws_profile,
            request_timeout=settings.request_timeout,
            max_retries=settings.max_retries,
            index_refresh_seconds=own.index_refresh_seconds,
        )

    def describe(self) -> str:
        transport = self._transport
        return f"dynamodb ({transport.region}, {_redacted(transport.endpoint_url)})"

    def native_document_size(self, doc_id: str, body: Body) -> int:
        """The item's size by DynamoDB's measure (attribute names and values), with the
        key, revision and marker attributes that asyncdb adds."""
        return item_size(build_item(doc_id, body, new_rev()))

    # -- lifecycle -------------------------------------------------------------------------
    async def open(self) -> None:
        await self._transport.client()

    async def aclose(self) -> None:
        await self._transport.aclose()

    async def ping(self) -> None:
        await self._call("list_tables", "", {"Limit": 1})

    async def _write(
        self, table: str, attempt: Callable[[], Awaitable[T]], *, create: bool = True
    ) -> T:
        """Run a write; if the table is missing, create it (when ``create``) and run it again.

        The caller's ``Attempts`` spans both runs: an ambiguous first attempt stays on record.
        """
        try:
            return await attempt()
        except TableMissing:
            self._tables.forget(table)
            if not create:
                raise
        await self._tables.ensure(table)
        return await attempt()

    # -- the four core operations ----------------------------------------------------------
    async def get(self, collection: str, doc_id: str) -> Record | None:
        try:
            response = await self._call(
                "get_item",
                collection,
                {"TableName": collection, "Key": key(doc_id), "ConsistentRead": True},
            )
        except TableMissing:
            return None
        item = response.get("Item")
        return None if item is None else record(item, doc_id)

    async def put(
        self,
        collection: str,
        doc_id: str,
        body: Body,
        *,
        if_rev: str | None = None,
        if_absent: bool = False,
    ) -> str:
        rev = new_rev()
        indexes = (await self._registry.current(collection)).indexes()
        params: dict[str, Any] = {
            "TableName": collection,
            "Item": build_item(doc_id, body, rev, indexes),
        }
        if if_rev is not None:
            params.update(rev_condition(if_rev))
        elif if_absent:
            params["ConditionExpression"] = "attribute_not_exists(#i)"
            params["ExpressionAttributeNames"] = _ID_NAMES
        attempts = Attempts()
        try:
            # A write with if_rev into a missing table can only conflict: create nothing.
            await self._write(
                collection,
                lambda: self._call("put_item", collection, params, attempts=attempts),
                create=if_rev is None,
            )
        except TableMissing:
            if if_rev is not None:
                raise ConflictError(_stale(doc_id, collection)) from None
            raise _vanished(collection) from None
        except ConditionFailed:
            if attempts.ambiguous:
                # The lost attempt may be what the condition met: only this write's own
                # token in the item proves it landed; anything else leaves it open.
                await self._confirm(collection, doc_id, rev)
                return rev
            message = (
                _stale(doc_id, collection)
                if if_rev is not None
                else f"document {doc_id!r} already exists in {collection!r}"
            )
            raise ConflictError(message) from None
        self._tables.add(collection)
        return rev

    async def _confirm(self, collection: str, doc_id: str, rev: str) -> None:
        """Return if ``doc_id`` holds revision ``rev`` now, else ``WriteOutcomeUnknownError``."""
        try:
            response = await self._call(
                "get_item",
                collection,
                {
                    "TableName": collection,
                    "Key": key(doc_id),
                    "ConsistentRead": True,
                    "ProjectionExpression": "#i, #r, #o",
                    "ExpressionAttributeNames": {**_BOTH_NAMES, "#o": ORIGINAL_ID_ATTRIBUTE},
                },
            )
        except (AsyncDBError, TableMissing) as exc:
            raise _unknown(doc_id, collection, "reading it back failed") from exc
        item = response.get("Item")
        if item is not None and caller_id(item) == doc_id and stored_rev(item) == rev:
            self._tables.add(collection)
            return
        raise _unknown(doc_id, collection, "it now holds another revision")

    async def delete(self, collection: str, doc_id: str, *, if_rev: str | None = None) -> bool:
        params: dict[str, Any] = {
            "TableName": collection,
            "Key": key(doc_id),
            "ReturnValues": "ALL_OLD",
        }
        if if_rev is not None:
            # A missing document is not a conflict: delete returns False for it.
            condition = rev_condition(if_rev)
            params["ConditionExpression"] = (
                f"attribute_not_exists(#i) OR ({condition['ConditionExpression']})"
            )
            params["ExpressionAttributeNames"] = _BOTH_NAMES
            if "ExpressionAttributeValues" in condition:
                params["ExpressionAttributeValues"] = condition["ExpressionAttributeValues"]
        attempts = Attempts()
        try:
            response = await self._call("delete_item", collection, params, attempts=attempts)
        except TableMissing:
            return False
        except ConditionFailed:
            if attempts.ambiguous:
                # The lost attempt may have deleted it, and another writer created it again.
                raise _unknown(doc_id, collection, "it now holds another revision") from None
            raise ConflictError(_stale(doc_id, collection)) from None
        return "Attributes" in response

    async def scan(self, collection: str, *, after: str | None, limit: int) -> ScanPage:
        params: dict[str, Any] = {"TableName": collection, "ConsistentRead": True}
        if after is not None:
            params["ExclusiveStartKey"] = key(after)
        records: list[Record] = []
        while True:
            params["Limit"] = limit - len(records)
            try:
                response = await self._call("scan", collection, params)
            except TableMissing:
                return ScanPage(records, None)
            items = response.get("Items", ())
            records.extend(r for r in map(record, items) if r is not None)
            last = response.get("LastEvaluatedKey")
            if not last:
                return ScanPage(records, None)
            # The cursor is a caller's id; an item no id reaches (a digest key without
            # its original id, written by another program) cannot be one: read on.
            if items and records and records[-1].id == caller_id(items[-1]):
                return ScanPage(records, records[-1].id)
            if len(records) >= limit and records:
                return ScanPage(records, records[-1].id)
            params["ExclusiveStartKey"] = last

    async def list_collections(self) -> list[str]:
        """Every table of the account and region (the prefix middleware keeps its own)."""
        return await self._tables.names()

    async def drop_collection(self, collection: str) -> None:
        """DeleteTable: the documents, the GSIs and the index registry go with it."""
        await self._tables.drop(collection)
        self._registry.forget(collection)


def _stale(doc_id: str, collection: str) -> str:
    return f"stale revision for document {doc_id!r} in {collection!r}"


def _unknown(doc_id: str, collection: str, why: str) -> WriteOutcomeUnknownError:
    return outcome_unknown(
        f"DynamoDB write of document {doc_id!r} in table {collection!r}",
        f"an attempt's answer was lost, its retry failed its condition, and {why}",
    )


def _refuse_overridden(
    *,
    endpoint_url: str | None,
    aws_access_key_id: str | None,
    aws_session_token: str | None,
    profile: str | None,
) -> None:
    """Refuse settings that a given client would silently override."""
    clashing = [
        name
        for name, value in (
            ("endpoint_url", endpoint_url),
            ("aws_access_key_id / aws_secret_access_key", aws_access_key_id),
            ("aws_session_token", aws_session_token),
            ("profile", profile),
        )
        if value is not None
    ]
    if clashing:
        raise ConfigurationError(
            f"{', '.join(clashing)} cannot be given with client=: the client has its own "
            "endpoint and credentials"
        )


def _vanished(collection: str) -> BackendUnavailableError:
    return BackendUnavailableError(
        f"DynamoDB table {collection!r} disappeared again right after it was created"
    )
