"""``DriverWrapper``: middleware is a driver that wraps a driver.

Every method delegates to ``inner``; a wrapper overrides only what it changes. The
wrapper owns its inner driver: closing the wrapper closes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

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

if TYPE_CHECKING:
    from asyncdb._query import Query

__all__ = ["DriverWrapper"]


class DriverWrapper(Driver):
    """Delegates every operation to ``inner``, mapping collection names via ``collection``."""

    def __init__(self, inner: Driver) -> None:
        self.inner = inner
        self.name = inner.name
        self._own_limits: DriverLimits | None = None

    @property
    def limits(self) -> DriverLimits:
        """The inner driver's limits, read each time (a driver may learn them in ``open()``),
        unless this wrapper was given limits of its own."""
        return self.inner.limits if self._own_limits is None else self._own_limits

    @limits.setter
    def limits(self, value: DriverLimits) -> None:
        self._own_limits = value

    def native_document_size(self, doc_id: str, body: Body) -> int:
        return self.inner.native_document_size(doc_id, body)

    def collection(self, name: str) -> str:
        """The collection name the inner driver sees; identity unless overridden."""
        return name

    def describe(self) -> str:
        return self.inner.describe()

    async def open(self) -> None:
        await self.inner.open()

    async def aclose(self) -> None:
        await self.inner.aclose()

    async def ping(self) -> None:
        await self.inner.ping()

    async def get(self, collection: str, doc_id: str) -> Record | None:
        return await self.inner.get(self.collection(collection), doc_id)

    async def put(
        self,
        collection: str,
        doc_id: str,
        body: Body,
        *,
        if_rev: str | None = None,
        if_absent: bool = False,
    ) -> str:
        return await self.inner.put(
            self.collection(collection), doc_id, body, if_rev=if_rev, if_absent=if_absent
        )

    async def delete(self, collection: str, doc_id: str, *, if_rev: str | None = None) -> bool:
        return await self.inner.delete(self.collection(collection), doc_id, if_rev=if_rev)

    async def scan(self, collection: str, *, after: str | None, limit: int) -> ScanPage:
        return await self.inner.scan(self.collection(collection), after=after, limit=limit)

    async def get_many(self, collection: str, ids: Sequence[str]) -> dict[str, Record]:
        return await self.inner.get_many(self.collection(collection), ids)

    async def put_many(self, collection: str, writes: Sequence[WriteRequest]) -> list[WriteOutcome]:
        return await self.inner.put_many(self.collection(collection), writes)

    async def delete_many(
        self, collection: str, deletes: Sequence[DeleteRequest]
    ) -> list[WriteOutcome]:
        return await self.inner.delete_many(self.collection(collection), deletes)

    async def find(self, collection: str, query: Query, limit: int | None) -> list[Record]:
        return await self.inner.find(self.collection(collection), query, limit)

    async def ensure_index(self, collection: str, fields: Sequence[str]) -> None:
        await self.inner.ensure_index(self.collection(collection), fields)

    async def list_collections(self) -> list[str]:
        return await self.inner.list_collections()

    async def drop_collection(self, collection: str) -> None:
        await self.inner.drop_collection(self.collection(collection))
