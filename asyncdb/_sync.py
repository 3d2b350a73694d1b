"""``SyncDatabaseService``: the blocking facade for scripts, threads and sync handlers.

It runs one private event loop in a background thread (an anyio blocking portal), builds
its service there (a service runs on one loop: the first that uses it) and forwards every
call of the face to it. Any number of threads may call it at once. Called from a thread
that is running an event loop it raises ``SyncFacadeMisuseError`` at once: blocking there
would freeze that loop (or deadlock it, if it is the portal's own).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import functools
import logging
import threading
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

import anyio.from_thread
import anyio.lowlevel
from anyio.from_thread import BlockingPortal, start_blocking_portal

from asyncdb._documents import Document
from asyncdb._factory import create_database_service
from asyncdb._guard import WrongEventLoopError, current_loop
from asyncdb._service import DatabaseService
from asyncdb._settings import Settings
from asyncdb.errors import ServiceClosedError, SyncFacadeMisuseError

__all__ = ["SyncDatabaseService"]

logger = logging.getLogger("asyncdb")

T = TypeVar("T")
P = ParamSpec("P")
R = TypeVar("R")


class _Runner(Protocol):
    """Where the facade's coroutines run."""

    blocks_to_stop: bool

    def call(self, func: Callable[[], Awaitable[T]]) -> T: ...

    def stop(self) -> None: ...


class _OwnLoop:
    """A private event loop in a background thread (an anyio blocking portal)."""

    blocks_to_stop = True

    def __init__(self) -> None:
        self._exit_stack = contextlib.ExitStack()
        self._portal: BlockingPortal = self._exit_stack.enter_context(
            start_blocking_portal(backend="asyncio")
        )

    def call(self, func: Callable[[], Awaitable[T]]) -> T:
        return self._portal.call(func)

    def stop(self) -> None:
        self._exit_stack.close()


class _HostLoop:
    """An event loop that runs already (a web application's), entered from worker threads
    with its token: calls share that loop's connections instead of opening their own."""

    blocks_to_stop = False

    def __init__(self) -> None:
        self._token = anyio.lowlevel.current_token()

    def call(self, func: Callable[[], Awaitable[T]]) -> T:
        async def run() -> T:
            return await func()

        return anyio.from_thread.run(run, token=self._token)

    def stop(self) -> None:
        """Nothing to stop: the loop belongs to its application."""


def _blocking(
    method: Callable[Concatenate[DatabaseService, P], Coroutine[Any, Any, R]],
) -> Callable[Concatenate[SyncDatabaseService, P], R]:
    """The face's ``method``, blocking: the same parameters (mypy and IDEs see them through
    the ``ParamSpec``) and docstring, run on the facade's event loop. The service's method
    is looked up at each call, so a subclass's override is the one that runs."""
    name = method.__name__

    @functools.wraps(method)
    def blocking(self: SyncDatabaseService, /, *args: P.args, **kwargs: P.kwargs) -> R:
        result: R = self._call(functools.partial(getattr(self._service, name), *args, **kwargs))
        return result

    blocking.__module__ = __name__
    blocking.__qualname__ = f"SyncDatabaseService.{name}"
    return blocking


class SyncDatabaseService:
    """The face's methods, blocking (``asyncdb.abc.DocumentService`` without ``await``;
    ``aclose`` is ``close``).

    ``SyncDatabaseService(settings)`` or ``SyncDatabaseService()`` (the environment) builds
    its service inside a private event loop in a background thread, so that the driver's
    connections are made on the loop that uses them; ``close()`` closes both.
    ``SyncDatabaseService(service)`` takes over a service that has not been used yet and
    binds it to that loop. ``SyncDatabaseService.over_running_loop(service)`` serves worker
    threads of an application whose loop already runs ``service``.
    """

    def __init__(self, service: DatabaseService | Settings | None = None) -> None:
        _refuse_event_loop_thread()
        if isinstance(service, DatabaseService) and service._loop_binding.bound:
            raise WrongEventLoopError(
                "SyncDatabaseService(service) takes a service that has not been used yet: "
                "this one already runs on an event loop, and its connections belong to it. "
                "Give the facade settings (SyncDatabaseService(settings)) to build its own "
                "service, or call SyncDatabaseService.over_running_loop(service) from the "
                "loop that runs this one."
            )
        runner = _OwnLoop()
        try:
            adopted = runner.call(functools.partial(_bind_or_build, service))
        except BaseException:
            runner.stop()
            raise
        self._setup(adopted, True, runner)
        _unclosed.add(self)

    @classmethod
    def over_running_loop(cls, service: DatabaseService) -> SyncDatabaseService:
        """A facade for worker threads over the event loop that is running now (call it
        from that loop, e.g. in a FastAPI lifespan). Its calls run on that loop, with the
        service's one connection pool; the service stays its owner's to close.
        ``WrongEventLoopError`` if ``service`` runs on another loop.
        """
        service._loop_binding.check()
        facade = cls.__new__(cls)
        facade._setup(service, False, _HostLoop())
        return facade

    def _setup(self, service: DatabaseService, owns_service: bool, runner: _Runner) -> None:
        self._service = service
        self._owns_service = owns_service
        self._lock = threading.Lock()
        self._runner: _Runner | None = runner

    def __repr__(self) -> str:
        return f"<SyncDatabaseService over {self._service!r}>"

    @property
    def service(self) -> DatabaseService:
        """The async service this facade drives (it runs on the facade's loop only)."""
        return self._service

    def __enter__(self) -> SyncDatabaseService:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop accepting calls; close the service if the facade built or took it over,
        and stop the private loop's thread. Idempotent."""
        runner = self._runner
        if runner is not None and (runner.blocks_to_stop or self._owns_service):
            _refuse_event_loop_thread()
        with self._lock:
            runner, self._runner = self._runner, None
        if runner is None:
            return
        _unclosed.discard(self)
        try:
            if self._owns_service:
                runner.call(self._service.aclose)
        finally:
            runner.stop()

    def _call(self, func: Callable[[], Awaitable[T]]) -> T:
        _refuse_event_loop_thread()
        runner = self._runner
        if runner is None:
            raise ServiceClosedError("this SyncDatabaseService has been closed")
        return runner.call(func)

    # -- the face's methods, blocking (tests/test_api_protocol.py holds them to the protocol)
    open = _blocking(DatabaseService.open)
    ping = _blocking(DatabaseService.ping)
    get = _blocking(DatabaseService.get)
    save = _blocking(DatabaseService.save)
    create = _blocking(DatabaseService.create)
    update = _blocking(DatabaseService.update)  # ``fn`` runs on the facade's loop thread
    patch = _blocking(DatabaseService.patch)
    delete = _blocking(DatabaseService.delete)
    list_all = _blocking(DatabaseService.list_all)
    list_page = _blocking(DatabaseService.list_page)
    get_many = _blocking(DatabaseService.get_many)
    save_many = _blocking(DatabaseService.save_many)
    delete_many = _blocking(DatabaseService.delete_many)
    find = _blocking(DatabaseService.find)
    find_page = _blocking(DatabaseService.find_page)
    ensure_index = _blocking(DatabaseService.ensure_index)
    list_collections = _blocking(DatabaseService.list_collections)
    drop_collection = _blocking(DatabaseService.drop_collection)
    check_document = _blocking(DatabaseService.check_document)

    def iter_all(self, collection: str, page_size: int = 500) -> Iterator[Document]:
        """Every document, fetched a page at a time: one hop to the loop per page."""
        stream = self._service.iter_all(collection, page_size)
        try:
            while True:
                batch = self._call(functools.partial(_take, stream, page_size))
                yield from batch
                if len(batch) < page_size:
                    return
        finally:
            if self._runner is not None:
                self._call(stream.aclose)


async def _bind_or_build(service: DatabaseService | Settings | None) -> DatabaseService:
    """On the facade's own loop: the service, bound to this loop (built here from settings,
    so that whatever the driver makes at construction belongs to this loop too)."""
    if not isinstance(service, DatabaseService):
        service = create_database_service(service)
    service._loop_binding.check()
    return service


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
    loop = current_loop()
    if loop is None:
        return
    library = "asyncio" if isinstance(loop, asyncio.AbstractEventLoop) else "trio"
    raise SyncFacadeMisuseError(
        f"SyncDatabaseService was called from a thread running an {library} event loop; "
        "blocking there would freeze the loop. Await DatabaseService instead, or call the "
        "facade from a worker thread (e.g. anyio.to_thread.run_sync)."
    )
