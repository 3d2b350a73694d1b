"""What a conformance test gets: a service over the driver under test, isolated by a
random collection prefix, either awaited directly or driven through the blocking facade.

``AwaitedSyncFacade`` is the blocking ``SyncDatabaseService`` seen as an awaited
``DocumentService`` (each call runs in a worker thread), so that one test body exercises
both faces.
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from typing import Any, Concatenate, ParamSpec, TypeVar

import anyio.to_thread

from asyncdb._documents import Document
from asyncdb._service import DatabaseService
from asyncdb._sync import SyncDatabaseService
from asyncdb.abc import DocumentService
from asyncdb.drivers.base import Driver
from asyncdb.errors import ServiceClosedError
from asyncdb.middleware.prefix import PrefixMiddleware
from asyncdb.testing.recorder import CallRecorder

__all__ = ["AwaitedSyncFacade", "DriverFactory", "Harness"]

DriverFactory = Callable[[], Driver]

P = ParamSpec("P")
R = TypeVar("R")


def _awaited(
    method: Callable[Concatenate[SyncDatabaseService, P], R],
) -> Callable[Concatenate[AwaitedSyncFacade, P], Coroutine[Any, Any, R]]:
    """The facade's blocking ``method`` as an awaited one with the same parameters: the
    call blocks a worker thread, never the test's event loop."""
    name = method.__name__

    @functools.wraps(method)
    async def awaited(self: AwaitedSyncFacade, /, *args: P.args, **kwargs: P.kwargs) -> R:
        call = functools.partial(getattr(self.sync_service, name), *args, **kwargs)
        result: R = await anyio.to_thread.run_sync(call)
        return result

    awaited.__module__ = __name__
    awaited.__qualname__ = f"AwaitedSyncFacade.{name}"
    return awaited


class AwaitedSyncFacade:
    """A ``SyncDatabaseService`` seen as an awaited ``DocumentService``: every call goes
    through the blocking facade, in a worker thread."""

    def __init__(self, sync_service: SyncDatabaseService) -> None:
        self.sync_service = sync_service

    open = _awaited(SyncDatabaseService.open)
    aclose = _awaited(SyncDatabaseService.close)
    ping = _awaited(SyncDatabaseService.ping)
    get = _awaited(SyncDatabaseService.get)
    save = _awaited(SyncDatabaseService.save)
    create = _awaited(SyncDatabaseService.create)
    update = _awaited(SyncDatabaseService.update)
    patch = _awaited(SyncDatabaseService.patch)
    delete = _awaited(SyncDatabaseService.delete)
    list_all = _awaited(SyncDatabaseService.list_all)
    list_page = _awaited(SyncDatabaseService.list_page)
    get_many = _awaited(SyncDatabaseService.get_many)
    save_many = _awaited(SyncDatabaseService.save_many)
    delete_many = _awaited(SyncDatabaseService.delete_many)
    find = _awaited(SyncDatabaseService.find)
    find_page = _awaited(SyncDatabaseService.find_page)
    ensure_index = _awaited(SyncDatabaseService.ensure_index)
    list_collections = _awaited(SyncDatabaseService.list_collections)
    drop_collection = _awaited(SyncDatabaseService.drop_collection)
    check_document = _awaited(SyncDatabaseService.check_document)

    async def iter_all(self, collection: str, page_size: int = 500) -> AsyncIterator[Document]:
        """The facade's plain iterator, each step in a worker thread."""
        iterator: Iterator[Document] = await anyio.to_thread.run_sync(
            self.sync_service.iter_all, collection, page_size
        )
        done: Any = object()
        while True:
            item = await anyio.to_thread.run_sync(next, iterator, done)
            if item is done:
                return
            yield item


# The adapter is a ``DocumentService``: mypy fails here if it drifts.
_: type[DocumentService] = AwaitedSyncFacade


def random_prefix() -> str:
    """A fresh collection prefix, so that tests sharing a server never share data."""
    return f"t{secrets.token_hex(5)}_"


class Harness:
    """Builds services over fresh drivers, records their driver calls, and cleans up."""

    def __init__(self, driver_factory: DriverFactory, *, via_sync_facade: bool) -> None:
        self._driver_factory = driver_factory
        self._via_sync_facade = via_sync_facade
        self._opened: list[tuple[DocumentService, CallRecorder, Callable[[], Any]]] = []
        self.recorder: CallRecorder
        self.service: DocumentService

    async def start(self) -> None:
        self.service, self.recorder = await self.new_service()

    async def new_service(self, prefix: str | None = None) -> tuple[DocumentService, CallRecorder]:
        """Another service over a new driver, with its own (or the given) prefix."""
        recorder = CallRecorder(PrefixMiddleware(self._driver_factory(), prefix or random_prefix()))
        service = DatabaseService(recorder)
        if self._via_sync_facade:
            # A fresh service, bound to the facade's own loop from its first call on.
            sync_service = await anyio.to_thread.run_sync(SyncDatabaseService, service)
            awaited = AwaitedSyncFacade(sync_service)
            self._opened.append((awaited, recorder, awaited.aclose))
            return awaited, recorder
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
