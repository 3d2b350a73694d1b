"""What a conformance test gets: a service over the driver under test, isolated by a
random collection prefix, either awaited directly or driven through the blocking facade.

``SyncBackedService`` exposes the blocking ``SyncDatabaseService`` with awaitable methods
(each call runs in a worker thread), so that one test body exercises both faces.
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any, Protocol

import anyio.to_thread

from asyncdb._documents import Document
from asyncdb._results import BulkResult, Page
from asyncdb._service import DatabaseService, UpdateFunction
from asyncdb._sync import SyncDatabaseService
from asyncdb.drivers.base import Driver
from asyncdb.errors import ServiceClosedError
from asyncdb.middleware.prefix import PrefixMiddleware
from asyncdb.testing.recorder import CallRecorder

__all__ = ["DriverFactory", "Harness", "ServiceLike", "SyncBackedService"]

DriverFactory = Callable[[], Driver]


class ServiceLike(Protocol):
    """The face's API as the suite uses it (``DatabaseService`` or ``SyncBackedService``)."""

    async def get(self, collection: str, doc_id: str) -> Document: ...
    async def save(self, collection: str, doc_id: str, doc: Any) -> Document: ...
    async def create(self, collection: str, doc_id: str, doc: Any) -> Document: ...
    async def update(
        self,
        collection: str,
        doc_id: str,
        fn: UpdateFunction,
        *,
        default: Mapping[str, Any] | None = None,
        attempts: int | None = None,
    ) -> Document: ...
    async def delete(self, collection: str, doc_id: str, rev: str | None = None) -> bool: ...
    async def list_all(self, collection: str) -> list[Document]: ...
    def iter_all(self, collection: str, page_size: int = 500) -> AsyncIterator[Document]: ...
    async def list_page(
        self, collection: str, limit: int = 100, cursor: str | None = None
    ) -> Page: ...
    async def get_many(self, collection: str, ids: Sequence[str]) -> dict[str, Document | None]: ...
    async def save_many(self, collection: str, docs: Sequence[Any]) -> BulkResult: ...
    async def delete_many(self, collection: str, ids: Sequence[Any]) -> BulkResult: ...
    async def find(
        self,
        collection: str,
        where: Mapping[str, Any],
        fields: Sequence[str] | None = None,
        limit: int | None = None,
    ) -> list[Document]: ...
    async def ensure_index(self, collection: str, fields: Sequence[str]) -> None: ...
    async def list_collections(self) -> list[str]: ...
    async def drop_collection(self, collection: str) -> None: ...
    async def ping(self) -> None: ...
    async def aclose(self) -> None: ...


class SyncBackedService:
    """Awaitable wrappers around a ``SyncDatabaseService``: every call blocks a worker
    thread, never the test's event loop."""

    def __init__(self, sync_service: SyncDatabaseService) -> None:
        self.sync_service = sync_service

    async def _run(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await anyio.to_thread.run_sync(functools.partial(method, *args, **kwargs))

    async def get(self, collection: str, doc_id: str) -> Document:
        result: Document = await self._run(self.sync_service.get, collection, doc_id)
        return result

    async def save(self, collection: str, doc_id: str, doc: Any) -> Document:
        result: Document = await self._run(self.sync_service.save, collection, doc_id, doc)
        return result

    async def create(self, collection: str, doc_id: str, doc: Any) -> Document:
        result: Document = await self._run(self.sync_service.create, collection, doc_id, doc)
        return result

    async def update(
        self,
        collection: str,
        doc_id: str,
        fn: UpdateFunction,
        *,
        default: Mapping[str, Any] | None = None,
        attempts: int | None = None,
    ) -> Document:
        result: Document = await self._run(
            self.sync_service.update, collection, doc_id, fn, default=default, attempts=attempts
        )
        return result

    async def delete(self, collection: str, doc_id: str, rev: str | None = None) -> bool:
        return bool(await self._run(self.sync_service.delete, collection, doc_id, rev))

    async def list_all(self, collection: str) -> list[Document]:
        result: list[Document] = await self._run(self.sync_service.list_all, collection)
        return result

    async def iter_all(self, collection: str, page_size: int = 500) -> AsyncIterator[Document]:
        iterator = await self._run(self.sync_service.iter_all, collection, page_size)
        done = object()
        while True:
            item = await self._run(next, iterator, done)
            if item is done:
                return
            yield item

    async def list_page(self, collection: str, limit: int = 100, cursor: str | None = None) -> Page:
        result: Page = await self._run(self.sync_service.list_page, collection, limit, cursor)
        return result

    async def get_many(self, collection: str, ids: Sequence[str]) -> dict[str, Document | None]:
        result: dict[str, Document | None] = await self._run(
            self.sync_service.get_many, collection, ids
        )
        return result

    async def save_many(self, collection: str, docs: Sequence[Any]) -> BulkResult:
        result: BulkResult = await self._run(self.sync_service.save_many, collection, docs)
        return result

    async def delete_many(self, collection: str, ids: Sequence[Any]) -> BulkResult:
        result: BulkResult = await self._run(self.sync_service.delete_many, collection, ids)
        return result

    async def find(
        self,
        collection: str,
        where: Mapping[str, Any],
        fields: Sequence[str] | None = None,
        limit: int | None = None,
    ) -> list[Document]:
        result: list[Document] = await self._run(
            self.sync_service.find, collection, where, fields, limit
        )
        return result

    async def ensure_index(self, collection: str, fields: Sequence[str]) -> None:
        await self._run(self.sync_service.ensure_index, collection, fields)

    async def list_collections(self) -> list[str]:
        result: list[str] = await self._run(self.sync_service.list_collections)
        return result

    async def drop_collection(self, collection: str) -> None:
        await self._run(self.sync_service.drop_collection, collection)

    async def ping(self) -> None:
        await self._run(self.sync_service.ping)

    async def aclose(self) -> None:
        await self._run(self.sync_service.close)


def random_prefix() -> str:
    """A fresh collection prefix, so that tests sharing a server never share data."""
    return f"t{secrets.token_hex(5)}_"


class Harness:
    """Builds services over fresh drivers, records their driver calls, and cleans up."""

    def __init__(self, driver_factory: DriverFactory, *, via_sync_facade: bool) -> None:
        self._driver_factory = driver_factory
        self._via_sync_facade = via_sync_facade
        self._opened: list[tuple[ServiceLike, CallRecorder, Callable[[], Any]]] = []
        self.recorder: CallRecorder
        self.service: ServiceLike

    async def start(self) -> None:
        self.service, self.recorder = await self.new_service()

    async def new_service(self, prefix: str | None = None) -> tuple[ServiceLike, CallRecorder]:
        """Another service over a new driver, with its own (or the given) prefix."""
        recorder = CallRecorder(PrefixMiddleware(self._driver_factory(), prefix or random_prefix()))
        service = DatabaseService(recorder)
        if self._via_sync_facade:
            sync_service = await anyio.to_thread.run_sync(SyncDatabaseService, service)
            backed = SyncBackedService(sync_service)
            self._opened.append((backed, recorder, backed.aclose))
            return backed, recorder
        self._opened.append((service, recorder, service.aclose))
        return service, recorder

    async def close(self) -> None:
        """Drop every collection the test touched, then close every service."""
        for service, recorder, close in reversed(self._opened):
            try:
                for collection in sorted(recorder.collections):
                    await service.drop_collection(collection)
            except ServiceClosedError:
                pass  # the test closed this service itself, after cleaning up
            finally:
                await close()
        self._opened.clear()
