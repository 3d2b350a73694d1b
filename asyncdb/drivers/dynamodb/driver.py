"""``DynamoDBDriver``: asyncdb over Amazon DynamoDB through one aioboto3 low-level client.

A collection is a table (named by the face, prefix included) with one string hash key
``_id`` and on-demand billing, created by the first write that finds it missing. The
revision is a random token in the ``_rev`` attribute, checked by condition expressions.
Bulk writes without a precondition go through BatchWriteItem, reads through BatchGetItem;
``find`` scans with a filter expression and pages until it has enough matches.

The client and its retries live in ``_connection``, the table lifecycle in ``_tables``,
the encoding in ``_codec``, the filter expressions in ``_filter`` and the error mapping in
``_errors``; this module holds the operations.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, Final, TypeVar
from urllib.parse import urlsplit

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
from asyncdb.drivers.dynamodb._codec import (
    ID_ATTRIBUTE,
    REV_ATTRIBUTE,
    decode_body,
    encode_body,
)
from asyncdb.drivers.dynamodb._connection import Connection
from asyncdb.drivers.dynamodb._errors import (
    ConditionFailed,
    TableMissing,
)
from asyncdb.drivers.dynamodb._filter import build_filter
from asyncdb.drivers.dynamodb._tables import Tables
from asyncdb.errors import (
    AsyncDBError,
    BackendUnavailableError,
    ConfigurationError,
    ConflictError,
    DocumentTooLargeError,
)

if TYPE_CHECKING:
    from typing import Self

    from asyncdb.query import Query
    from asyncdb.settings import Settings

__all__ = ["DynamoDBDriver"]

T = TypeVar("T")

#: DynamoDB's own limits on one batch call.
BATCH_GET_KEYS: Final = 100
BATCH_WRITE_ITEMS: Final = 25
#: A revision: 12 random bytes, URL-safe base64 (16 characters).
_REV_BYTES: Final = 12
#: A document written by another tool has no ``_rev``; it reads as this revision.
UNREVISED: Final = "0"

_ID_NAMES: Final = {"#i": ID_ATTRIBUTE}
_REV_NAMES: Final = {"#r": REV_ATTRIBUTE}
_BOTH_NAMES: Final = {"#i": ID_ATTRIBUTE, "#r": REV_ATTRIBUTE}


def _new_rev() -> str:
    return secrets.token_urlsafe(_REV_BYTES)


def _key(doc_id: str) -> dict[str, dict[str, str]]:
    return {ID_ATTRIBUTE: {"S": doc_id}}


def _record(item: dict[str, Any]) -> Record:
    rev = item.get(REV_ATTRIBUTE)
    return Record(item[ID_ATTRIBUTE]["S"], rev["S"] if rev else UNREVISED, decode_body(item))


def _redacted(url: str | None) -> str:
    if not url:
        return "AWS"
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


class DynamoDBDriver(Driver):
    """Documents in DynamoDB tables, one table per collection.

    Credentials follow the standard AWS chain unless given here. Tunables (all optional):
    ``max_connections`` (HTTP pool size), ``write_concurrency`` (parallel conditional
    writes inside one bulk call), ``find_page_size`` (the first Scan ``Limit`` of a
    ``find`` with a limit; it grows fourfold per page), ``backoff_base`` / ``backoff_cap``
    (seconds of the jittered exponential back-off), ``table_wait`` (seconds to wait for a
    new table to become ACTIVE, or a dropped one to finish deleting).
    """

    name = "dynamodb"
    limits = DriverLimits(
        max_get_batch=BATCH_GET_KEYS,
        max_write_batch=BATCH_WRITE_ITEMS,
        max_concurrency=8,
        scan_page_size=1000,
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
    ) -> None:
        if (aws_access_key_id is None) != (aws_secret_access_key is None):
            missing = (
                "AWS_SECRET_ACCESS_KEY" if aws_secret_access_key is None else ("AWS_ACCESS_KEY_ID")
            )
            raise ConfigurationError(f"{missing} is not set (both AWS keys are needed together)")
        self._region = region
        self._endpoint_url = endpoint_url
        session_kwargs: dict[str, str] = {"region_name": region}
        if aws_access_key_id is not None and aws_secret_access_key is not None:
            session_kwargs["aws_access_key_id"] = aws_access_key_id
            session_kwargs["aws_secret_access_key"] = aws_secret_access_key
        if aws_session_token is not None:
            session_kwargs["aws_session_token"] = aws_session_token
        if profile is not None:
            session_kwargs["profile_name"] = profile
        self._connection = Connection(
            session_kwargs=session_kwargs,
            endpoint_url=endpoint_url,
            request_timeout=request_timeout,
            max_retries=max_retries,
            max_connections=max_connections,
            backoff_base=backoff_base,
            backoff_cap=backoff_cap,
        )
        self._tables = Tables(self._connection, table_wait)
        self._call = self._connection.call
        self._write_concurrency = write_concurrency
        self._find_page_size = find_page_size

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        """Region, endpoint, keys and timeouts from ``Settings`` (DYNAMODB_*, AWS_*)."""
        secret = settings.aws_secret_access_key
        token = settings.aws_session_token
        return cls(
            region=settings.dynamodb_region,
            endpoint_url=settings.dynamodb_endpoint_url,
            aws_access_key_id=settings.aws_access_key_id,
            aws_secret_access_key=secret.get_secret_value() if secret else None,
            aws_session_token=token.get_secret_value() if token else None,
            profile=settings.aws_profile,
            request_timeout=settings.request_timeout,
            max_retries=settings.max_retries,
        )

    def describe(self) -> str:
        return f"dynamodb ({self._region}, {_redacted(self._endpoint_url)})"

    def __repr__(self) -> str:
        return f"<DynamoDBDriver {self.describe()}>"

    # -- lifecycle -------------------------------------------------------------------------
    async def open(self) -> None:
        await self._connection.client()

    async def aclose(self) -> None:
        self._tables.reset()
        await self._connection.aclose()

    async def ping(self) -> None:
        await self._call("list_tables", "", {"Limit": 1})

    async def _write(
        self, table: str, attempt: Callable[[], Awaitable[T]], *, create: bool = True
    ) -> T:
        """Run a write; if the table is missing, create it (when ``create``) and run it again."""
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
                {"TableName": collection, "Key": _key(doc_id), "ConsistentRead": True},
            )
        except TableMissing:
            return None
        item = response.get("Item")
        return None if item is None else _record(item)

    async def put(
        self,
        collection: str,
        doc_id: str,
        body: Body,
        *,
        if_rev: str | None = None,
        if_absent: bool = False,
    ) -> str:
        rev = _new_rev()
        item = encode_body(body)
        item[ID_ATTRIBUTE] = {"S": doc_id}
        item[REV_ATTRIBUTE] = {"S": rev}
        params: dict[str, Any] = {"TableName": collection, "Item": item}
        if if_rev is not None:
            params.update(_rev_condition(if_rev))
        elif if_absent:
            params["ConditionExpression"] = "attribute_not_exists(#i)"
            params["ExpressionAttributeNames"] = _ID_NAMES
        try:
            # A write with if_rev into a missing table can only conflict: create nothing.
            await self._write(
                collection,
                lambda: self._call("put_item", collection, params),
                create=if_rev is None,
            )
        except TableMissing:
            if if_rev is not None:
                raise ConflictError(_stale(doc_id, collection)) from None
            raise _vanished(collection) from None
        except ConditionFailed as exc:
            if exc.after_ambiguous and await self._current_rev(collection, doc_id) == rev:
                return rev  # an earlier attempt that timed out did land
            message = (
                _stale(doc_id, collection)
                if if_rev is not None
                else f"document {doc_id!r} already exists in {collection!r}"
            )
            raise ConflictError(message) from None
        self._tables.add(collection)
        return rev

    async def _current_rev(self, collection: str, doc_id: str) -> str | None:
        record = await self.get(collection, doc_id)
        return None if record is None else record.rev

    async def delete(self, collection: str, doc_id: str, *, if_rev: str | None = None) -> bool:
        params: dict[str, Any] = {
            "TableName": collection,
            "Key": _key(doc_id),
            "ReturnValues": "ALL_OLD",
        }
        if if_rev is not None:
            # A missing document is not a conflict: delete returns False for it.
            condition = _rev_condition(if_rev)
            params["ConditionExpression"] = (
                f"attribute_not_exists(#i) OR ({condition['ConditionExpression']})"
            )
            params["ExpressionAttributeNames"] = _BOTH_NAMES
            if "ExpressionAttributeValues" in condition:
                params["ExpressionAttributeValues"] = condition["ExpressionAttributeValues"]
        try:
            response = await self._call("delete_item", collection, params)
        except TableMissing:
            return False
        except ConditionFailed:
            raise ConflictError(_stale(doc_id, collection)) from None
        return "Attributes" in response

    async def scan(self, collection: str, *, after: str | None, limit: int) -> ScanPage:
        params: dict[str, Any] = {"TableName": collection, "Limit": limit, "ConsistentRead": True}
        if after is not None:
            params["ExclusiveStartKey"] = _key(after)
        try:
            response = await self._call("scan", collection, params)
        except TableMissing:
            return ScanPage([], None)
        records = [_record(item) for item in response.get("Items", ())]
        last = response.get("LastEvaluatedKey")
        return ScanPage(records, last[ID_ATTRIBUTE]["S"] if last else None)

    # -- fast paths ------------------------------------------------------------------------
    async def get_many(self, collection: str, ids: Sequence[str]) -> dict[str, Record]:
        unique = list(dict.fromkeys(ids))
        found: dict[str, Record] = {}
        for start in range(0, len(unique), BATCH_GET_KEYS):
            keys = [_key(doc_id) for doc_id in unique[start : start + BATCH_GET_KEYS]]
            try:
                await self._batch_get(collection, keys, found)
            except TableMissing:
                return {}
        return found

    async def _batch_get(
        self, table: str, keys: list[dict[str, Any]], found: dict[str, Record]
    ) -> None:
        stalls = 0
        while keys:
            response = await self._call(
                "batch_get_item",
                table,
                {"RequestItems": {table: {"Keys": keys, "ConsistentRead": True}}},
            )
            for item in response.get("Responses", {}).get(table, ()):
                record = _record(item)
                found[record.id] = record
            left = response.get("UnprocessedKeys", {}).get(table, {}).get("Keys", [])
            stalls = stalls + 1 if len(left) >= len(keys) else 0
            if left and stalls > self._connection.max_retries:
                raise BackendUnavailableError(
                    f"DynamoDB left {len(left)} keys of table {table!r} unprocessed "
                    f"{stalls} times in a row"
                )
            if left:
                await self._connection.back_off(stalls)
            keys = left

    async def put_many(self, collection: str, writes: Sequence[WriteRequest]) -> list[WriteOutcome]:
        outcomes = [WriteOutcome(write.id) for write in writes]
        plain: list[tuple[int, dict[str, Any]]] = []
        guarded: list[int] = []
        for index, write in enumerate(writes):
            if write.if_rev is not None or write.if_absent:
                guarded.append(index)
                continue
            rev = _new_rev()
            item = encode_body(write.body)
            item[ID_ATTRIBUTE] = {"S": write.id}
            item[REV_ATTRIBUTE] = {"S": rev}
            outcomes[index].rev = rev
            plain.append((index, {"PutRequest": {"Item": item}}))

        async def guarded_put(index: int) -> None:
            write = writes[index]
            try:
                outcomes[index].rev = await self.put(
                    collection, write.id, write.body, if_rev=write.if_rev, if_absent=write.if_absent
                )
            except AsyncDBError as exc:
                outcomes[index].error = exc

        async def batch(chunk: list[tuple[int, dict[str, Any]]]) -> None:
            try:
                await self._write(
                    collection, lambda: self._batch_write(collection, chunk, outcomes)
                )
                self._tables.add(collection)
            except TableMissing:
                for index, _ in chunk:
                    outcomes[index].rev, outcomes[index].error = None, _vanished(collection)
            except DocumentTooLargeError:
                # DynamoDB refuses the whole batch for one item: find which, one by one.
                await self._bounded([guarded_put_plain(index) for index, _ in chunk])
            except AsyncDBError as exc:
                for index, _ in chunk:
                    outcomes[index].rev, outcomes[index].error = None, exc

        async def guarded_put_plain(index: int) -> None:
            write = writes[index]
            try:
                outcomes[index].rev = await self.put(collection, write.id, write.body)
            except AsyncDBError as exc:
                outcomes[index].rev, outcomes[index].error = None, exc

        chunks = [plain[i : i + BATCH_WRITE_ITEMS] for i in range(0, len(plain), BATCH_WRITE_ITEMS)]
        await self._bounded([batch(chunk) for chunk in chunks] + [guarded_put(i) for i in guarded])
        return outcomes

    async def delete_many(
        self, collection: str, deletes: Sequence[DeleteRequest]
    ) -> list[WriteOutcome]:
        outcomes = [WriteOutcome(request.id) for request in deletes]
        plain = [
            (index, {"DeleteRequest": {"Key": _key(request.id)}})
            for index, request in enumerate(deletes)
            if request.if_rev is None
        ]

        async def guarded_delete(index: int) -> None:
            request = deletes[index]
            try:
                await self.delete(collection, request.id, if_rev=request.if_rev)
            except AsyncDBError as exc:
                outcomes[index].error = exc

        async def batch(chunk: list[tuple[int, dict[str, Any]]]) -> None:
            try:
                await self._batch_write(collection, chunk, outcomes)
            except TableMissing:
                pass  # nothing to delete
            except AsyncDBError as exc:
                for index, _ in chunk:
                    outcomes[index].error = exc

        chunks = [plain[i : i + BATCH_WRITE_ITEMS] for i in range(0, len(plain), BATCH_WRITE_ITEMS)]
        guarded = [i for i, request in enumerate(deletes) if request.if_rev is not None]
        jobs = [batch(chunk) for chunk in chunks] + [guarded_delete(i) for i in guarded]
        await self._bounded(jobs)
        return outcomes

    async def _batch_write(
        self,
        table: str,
        chunk: list[tuple[int, dict[str, Any]]],
        outcomes: list[WriteOutcome],
    ) -> None:
        """One BatchWriteItem of at most 25 requests, retrying what DynamoDB left over;
        requests still unprocessed after the bound fail alone with BackendUnavailableError."""
        index_of = {_request_id(request): index for index, request in chunk}
        pending = [request for _, request in chunk]
        stalls = 0
        while pending:
            response = await self._call(
                "batch_write_item", table, {"RequestItems": {table: pending}}
            )
            left = response.get("UnprocessedItems", {}).get(table, [])
            if not left:
                return
            stalls = stalls + 1 if len(left) >= len(pending) else 0
            if stalls > self._connection.max_retries:
                error = BackendUnavailableError(
                    f"DynamoDB left the write unprocessed {stalls} times in a row (throttled)"
                )
                for request in left:
                    outcome = outcomes[index_of[_request_id(request)]]
                    outcome.rev, outcome.error = None, error
                return
            await self._connection.back_off(stalls)
            pending = left

    async def _bounded(self, jobs: Sequence[Awaitable[None]]) -> None:
        """Run ``jobs`` with at most ``write_concurrency`` of them in flight."""
        if len(jobs) == 1:
            await jobs[0]
            return
        semaphore = asyncio.Semaphore(self._write_concurrency)

        async def limited(job: Awaitable[None]) -> None:
            async with semaphore:
                await job

        await asyncio.gather(*(limited(job) for job in jobs))

    async def find(self, collection: str, query: Query, limit: int | None) -> list[Record]:
        scan_filter = build_filter(query)
        if scan_filter.impossible:
            return []
        params: dict[str, Any] = {
            "TableName": collection,
            "ConsistentRead": True,
            **scan_filter.params,
        }
        # DynamoDB's Limit counts items read before the filter: it bounds the cost of a page,
        # not the number of matches. Start small when few matches are wanted, grow while
        # they are sparse, and keep paging until there are enough or the table ends.
        page_limit = None if limit is None else max(limit, self._find_page_size)
        matches: list[Record] = []
        while True:
            if page_limit is not None:
                params["Limit"] = page_limit
                page_limit = page_limit * 4 if page_limit < 100_000 else None
            else:
                params.pop("Limit", None)
            try:
                response = await self._call("scan", collection, params)
            except TableMissing:
                return []
            for item in response.get("Items", ()):
                record = _record(item)
                if query.matches(record.body):
                    matches.append(record)
                    if limit is not None and len(matches) >= limit:
                        return matches
            last = response.get("LastEvaluatedKey")
            if not last:
                return matches
            params["ExclusiveStartKey"] = last

    async def ensure_index(self, collection: str, fields: Sequence[str]) -> None:
        """Nothing: ``find`` scans with a filter; secondary indexes are out of scope."""

    async def list_collections(self) -> list[str]:
        """Every table of the account and region (the prefix middleware keeps its own)."""
        return await self._tables.names()

    async def drop_collection(self, collection: str) -> None:
        await self._tables.drop(collection)


def _rev_condition(if_rev: str) -> dict[str, Any]:
    if if_rev == UNREVISED:  # a document written without asyncdb's revision attribute
        return {
            "ConditionExpression": "attribute_exists(#i) AND attribute_not_exists(#r)",
            "ExpressionAttributeNames": _BOTH_NAMES,
        }
    return {
        "ConditionExpression": "#r = :rev",
        "ExpressionAttributeNames": _REV_NAMES,
        "ExpressionAttributeValues": {":rev": {"S": if_rev}},
    }


def _request_id(request: dict[str, Any]) -> str:
    put = request.get("PutRequest")
    key = put["Item"] if put is not None else request["DeleteRequest"]["Key"]
    return str(key[ID_ATTRIBUTE]["S"])


def _stale(doc_id: str, collection: str) -> str:
    return f"stale revision for document {doc_id!r} in {collection!r}"


def _vanished(collection: str) -> BackendUnavailableError:
    return BackendUnavailableError(
        f"DynamoDB table {collection!r} disappeared again right after it was created"
    )
