"""``CallRecorder``: middleware that records every driver call, so a test can prove that
invalid input was refused before any I/O."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from asyncdb.drivers.base import (
    Body,
    DeleteRequest,
    Driver,
    Record,
    ScanPage,
    WriteOutcome,
    WriteRequest,
)
from asyncdb.middleware.base import DriverWrapper

if TYPE_CHECKING:
    from asyncdb._query import Query

__all__ = ["CallRecorder"]


class CallRecorder(DriverWrapper):
    """Records ``(operation, collection)`` for every data call that reaches the driver."""

    def __init__(self, inner: Driver) -> None:
        super().__init__(inner)
        self.calls: list[tuple[str, str]] = []
        self.collections: set[str] = set()

    def _record(self, operation: str, collection: str) -> None:
        self.calls.append((operation, collection))
        self.collections.add(collection)

    async def get(self, collection: str, doc_id: str) -> Record | None:
        self._record("get", collection)
        return await super().get(collection, doc_id)

    async def put(
        self,
        collection: str,
        doc_id: str,
        body: Body,
        *,
        if_rev: str | None = None,
        if_absent: bool = False,
    ) -> str:
        self._record("put", collection)
        return await super().put(collection, doc_id, body, if_rev=if_rev, if_absent=if_absent)

    async def delete(self, collection: str, doc_id: str, *, if_rev: str | None = None) -> bool:
        self._record("delete", collection)
        return await super().delete(collection, doc_id, if_rev=if_rev)

    async def scan(self, collection: str, *, after: str | None, limit: int) -> ScanPage:
        self._record("scan", collection)
        return await super().scan(collection, after=after, limit=limit)

    async def get_many(self, collection: str, ids: Sequence[str]) -> dict[str, Record]:
        self._record("get_many", collection)
        return await super().get_many(collection, ids)

    async def put_many(self, collection: str, writes: Sequence[WriteRequest]) -> list[WriteOutcome]:
        self._record("put_many", collection)
        return await super().put_many(collection, writes)

    async def delete_many(
        self, collection: str, deletes: Sequence[DeleteRequest]
    ) -> list[WriteOutcome]:
        self._record("delete_many", collection)
        return await super().delete_many(collection, deletes)

    async def find(self, collection: str, query: Query, limit: int | None) -> list[Record]:
        self._record("find", collection)
        return await super().find(collection, query, limit)

    async def ensure_index(self, collection: str, fields: Sequence[str]) -> None:
        self._record("ensure_index", collection)
        await super().ensure_index(collection, fields)

    async def drop_collection(self, collection: str) -> None:
        self._record("drop_collection", collection)
        await super().drop_collection(collection)
