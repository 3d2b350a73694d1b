"""``SyncDatabaseService``: the blocking facade for scripts, threads and sync handlers.

It runs one private event loop in a background thread (an anyio blocking portal) and
forwards every call of the face to it. Any number of threads may call it at once. Called
from a thread that is running an event loop it raises ``SyncFacadeMisuseError`` at once:
blocking there would freeze that loop (or deadlock it, if it is the portal's own).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import sys
import threading
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from typing import Any, Protocol, TypeVar

import anyio.from_thread
import anyio.lowlevel
from anyio.from_thread import BlockingPortal, start_blocking_portal

from asyncdb._documents import Document
from asyncdb._factory import create_database_service
from asyncdb._results import BulkResult, Page
from asyncdb._service import DatabaseService, UpdateFunction
from asyncdb._settings import Settings
from asyncdb.errors import ServiceClosedError, SyncFacadeMisuseError

__all__ = ["SyncDatabaseService"]

logger = logging.getLogger("asyncdb")

T = TypeVar("T")


class _Runner(Protocol):
    """Where the facade's coroutines run."""

    blocks_to_stop: bool

    def call(self, func: Callable[..., Awaitable[T]], *args: Any) -> T: ...

    def stop(self) -> None: ...


class _OwnLoop:
    """A private event loop in a background thread (an anyio blocking portal)."""

    blocks_to_stop = True

    def __init__(self) -> None:
        self._exit_stack = contextlib.ExitStack()
        self._portal: BlockingPortal = self._exit_stack.enter_context(
            start_blocking_portal(backend="asyncio")
        )

    def call(self, func: Callable[..., Awaitable[T]], *args: Any) -> T:
        return self._portal.call(func, *args)

    def stop(self) -> None:
        self._exit_stack.close()


class _HostLoop:
    """An event loop that runs already (a web application's), entered from worker threads
    with its token: calls share that loop's connections instead of opening their own."""

    blocks_to_stop = False

    def __init__(self) -> None:
        self._token = anyio.lowlevel.current_token()

    def call(self, func: Callable[..., Awaitable[T]], *args: Any) -> T:
        async def run() -> T:
            return await func(*args)

        return anyio.from_thread.run(run, token=self._token)

    def stop(self) -> None:
        """Nothing to stop: the loop belongs to its application."""


class SyncDatabaseService:
    """The face's methods, blocking.

    ``SyncDatabaseService(service)`` runs ``service`` on a private event loop in a
    background thread, takes it over and closes it on ``close()`` (its connections belong
    to that loop, useless once it stops); pass ``close_service=False`` to keep it open.
    ``SyncDatabaseService(settings)`` or ``SyncDatabaseService()`` builds a fresh service
    from settings / the environment. ``SyncDatabaseService.over_running_loop(service)``
    serves worker threads of an application whose loop already runs ``service``.
    """

    def __init__(
        self,
        service: DatabaseService | Settings | None = None,
        *,
        close_service: bool = True,
    ) -> None:
        _refuse_event_loop_thread()
        if not isinstance(service, DatabaseService):
            service = create_database_service(service)
        self._setup(service, close_service, _OwnLoop())
        _unclosed.add(self)

    @classmethod
    def over_running_loop(cls, service: DatabaseService) -> SyncDatabaseService:
        """A facade for worker threads over the event loop that is running now (call it
        from that loop, e.g. in a FastAPI lifespan). Its calls run on that loop, with the
        service's one connection pool; the service stays its owner's to close.
        """
        facade = cls.__new__(cls)
        facade._setup(service, False, _HostLoop())
        return facade

    def _setup(self, service: DatabaseService, close_service: bool, runner: _Runner) -> None:
        self._service = service
        self._close_service = close_service
        self._lock = threading.Lock()
        self._runner: _Runner | None = runner

    def __repr__(self) -> str:
        return f"<SyncDatabaseService over {self._service!r}>"

    @property
    def service(self) -> DatabaseService:
        """The async service this facade drives."""
        return self._service

    def __enter__(self) -> SyncDatabaseService:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop accepting calls; close the service (unless told not to) and stop the
        private loop's thread. Idempotent."""
        runner = self._runner
        if runner is not None and (runner.blocks_to_stop or self._close_service):
            _refuse_event_loop_thread()
        with self._lock:
            runner, self._runner = self._runner, None
        if runner is None:
            return
        _unclosed.discard(self)
        try:
            if self._close_service:
                runner.call(self._service.aclose)
        finally:
            runner.stop()

    def _call(self, func: Any, *args: Any) -> Any:
        _refuse_event_loop_thread()
        runner = self._runner
        if runner is None:
            raise ServiceClosedError("this SyncDatabaseService has been closed")
        return runner.call(func, *args)

    # -- the face's methods, blocking --------------------------------------------------------
    def ping(self) -> None:
        """See ``DatabaseService.ping``."""
        self._call(self._service.ping)

    def get(self, collection: str, doc_id: str) -> Document:
        """See ``DatabaseService.get``."""
        result: Document = self._call(self._service.get, collection, doc_id)
        return result

    def save(self, collection: str, doc_id: str, doc: Mapping[str, Any] | Any) -> Document:
        """See ``DatabaseService.save``."""
        result: Document = self._call(self._service.save, collection, doc_id, doc)
        return result

    def create(self, collection: str, doc_id: str, doc: Mapping[str, Any] | Any) -> Document:
        """See ``DatabaseService.create``."""
        result: Document = self._call(self._service.create, collection, doc_id, doc)
        return result

    def update(
        self,
        collection: str,
        doc_id: str,
        fn: UpdateFunction,
        *,
        default: Mapping[str, Any] | None = None,
        attempts: int | None = None,
    ) -> Document:
        """See ``DatabaseService.update``; ``fn`` runs on the portal's thread."""

        async def run() -> Document:
            return await self._service.update(
                collection, doc_id, fn, default=default, attempts=attempts
            )

        result: Document = self._call(run)
        return result

    def delete(self, collection: str, doc_id: str, rev: str | None = None) -> bool:
        """See ``DatabaseService.delete``."""
        return bool(self._call(self._service.delete, collection, doc_id, rev))

    def list_all(self, collection: str) -> list[Document]:
        """See ``DatabaseService.list_all``."""
        result: list[Document] = self._call(self._service.list_all, collection)
        return result

    def iter_all(self, collection: str, page_size: int = 500) -> Iterator[Document]:
        """Every document, fetched a page at a time: one portal hop per page."""
        stream = self._service.iter_all(collection, page_size)
        try:
            while True:
                batch: list[Document] = self._call(_take, stream, page_size)
                yield from batch
                if len(batch) < page_size:
                    return
        finally:
            if self._runner is not None:
                self._call(stream.aclose)

    def list_page(self, collection: str, limit: int = 100, cursor: str | None = None) -> Page:
        """See ``DatabaseService.list_page``."""
        result: Page = self._call(self._service.list_page, collection, limit, cursor)
        return result

    def get_many(self, collection: str, ids: Sequence[str]) -> dict[str, Document | None]:
        """See ``DatabaseService.get_many``."""
        result: dict[str, Document | None] = self._call(self._service.get_many, collection, ids)
        return result

    def save_many(self, collection: str, docs: Sequence[Mapping[str, Any] | Any]) -> BulkResult:
        """See ``DatabaseService.save_many``."""
        result: BulkResult = self._call(self._service.save_many, collection, docs)
        return result

    def delete_many(self, collection: str, ids: Sequence[str | Mapping[str, Any]]) -> BulkResult:
        """See ``DatabaseService.delete_many``."""
        result: BulkResult = self._call(self._service.delete_many, collection, ids)
        return result

    def find(
        self,
        collection: str,
        where: Mapping[str, Any],
        fields: Sequence[str] | None = None,
        limit: int | None = None,
    ) -> list[Document]:
        """See ``DatabaseService.find``."""
        result: list[Document] = self._call(self._service.find, collection, where, fields, limit)
        return result

    def ensure_index(self, collection: str, fields: Sequence[str]) -> None:
        """See ``DatabaseService.ensure_index``."""
        self._call(self._service.ensure_index, collection, fields)

    def list_collections(self) -> list[str]:
        """See ``DatabaseService.list_collections``."""
        result: list[str] = self._call(self._service.list_collections)
        return result

    def drop_collection(self, collection: str) -> None:
        """See ``DatabaseService.drop_collection``."""
        self._call(self._service.drop_collection, collection)


async def _take(stream: AsyncIterator[T], count: int) -> list[T]:
    batch: list[T] = []
    async for item in stream:
        batch.append(item)
        if len(batch) >= count:
            break
    return batch


#: Facades with a private loop that nobody has closed yet.
_unclosed: weakref.WeakSet[SyncDatabaseService] = weakref.WeakSet()


def _close_unclosed_facades() -> None:
    """At interpreter exit, close every facade still open. A script that never calls
    ``close()`` must still exit: left to the interpreter's finalisation, the portal's
    clean-up would wait for its loop thread, which finalisation has already stopped, and
    the process would hang."""
    for facade in list(_unclosed):
        try:
            facade.close()
        except Exception:  # at exit there is no caller left to raise to
            logger.warning("closing %r at exit failed", facade, exc_info=True)


# ``atexit`` handlers run only after the interpreter has joined its threads, too late here;
# the threading module's own shutdown hook runs before that (private, hence the fallback).
_register_at_shutdown: Callable[[Callable[[], None]], object] = getattr(
    threading, "_register_atexit", atexit.register
)
_register_at_shutdown(_close_unclosed_facades)


def _refuse_event_loop_thread() -> None:
    library: str | None = None
    try:
        asyncio.get_running_loop()
        library = "asyncio"
    except RuntimeError:
        trio = sys.modules.get("trio")  # only if the application uses trio at all
        if trio is not None:
            try:
                trio.lowlevel.current_trio_token()
                library = "trio"
            except RuntimeError:
                pass
    if library is None:
        return
    raise SyncFacadeMisuseError(
        f"SyncDatabaseService was called from a thread running an {library} event loop; "
        "blocking there would freeze the loop. Await DatabaseService instead, or call the "
        "facade from a worker thread (e.g. anyio.to_thread.run_sync)."
    )
