"""``DriverWrapper``: middleware is a driver that wraps a driver, through one hook.

Every I/O method of the ``Driver`` ABC is forwarded here, once, as a ``DriverCall``
(the operation's name, the collection when there is one, the other arguments) through
``DriverWrapper.around``. A middleware overrides ``around`` alone::

    class Logged(DriverWrapper):
        async def around(self, call, proceed):
            logger.debug("%s %s", call.operation, call.collection)
            return await proceed(call)

``proceed(call)`` runs the inner driver's method; a middleware may pass on a changed call
(``call.with_collection(...)``), refuse it (raise before proceeding), time it, or look at
its result. The methods that do no I/O (``limits``, ``describe``,
``native_document_size``, ``can_find``, ``name``) forward without the hook: they are read
by the face before any I/O and must stay cheap and synchronous.

No driver method returns an async iterator: a scan is a sequence of ``scan`` calls, one
per page, so the hook sees each round trip, and ``proceed`` returns the ``ScanPage``.
A future streaming method must keep that shape (tests/middleware checks that every I/O
method of ``Driver`` is a coroutine function routed through the hook).

The wrapper owns its inner driver: closing the wrapper closes it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Generic, NamedTuple, TypeVar, cast

from asyncdb.drivers.base import (
    Body,
    Change,
    DeleteRequest,
    Driver,
    DriverLimits,
    Record,
    ScanPage,
    WriteOutcome,
    WriteRequest,
)

if TYPE_CHECKING:
    from asyncdb._query import FieldPath, Order, Query

__all__ = ["DriverCall", "DriverWrapper", "Proceed"]

T = TypeVar("T")

# One shared, read-only empty mapping: most calls have no keyword arguments.
_NO_KWARGS: Mapping[str, Any] = MappingProxyType({})


class DriverCall(NamedTuple, Generic[T]):
    """One call to the wrapped driver, as ``DriverWrapper.around`` sees it (immutable).

    ``operation`` is the name of the ``Driver`` method; ``collection`` its first argument
    (``None`` for ``open``, ``aclose``, ``ping`` and ``list_collections``); ``args`` the
    other positional arguments in the order of the ``Driver`` signature, ``kwargs`` its
    keyword-only ones. ``T`` is what the call returns.

    A named tuple rather than a frozen dataclass: one is built for every driver call,
    and a tuple is built several times faster.
    """

    operation: str
    collection: str | None = None
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = _NO_KWARGS

    def with_collection(self, collection: str) -> DriverCall[T]:
        """The same call on another collection (what a renaming middleware passes on)."""
        return self._replace(collection=collection)


#: What ``around`` calls to run the call on the inner driver (or the next middleware).
Proceed = Callable[[DriverCall[T]], Awaitable[T]]


class DriverWrapper(Driver):
    """Forwards every operation to ``inner`` through ``around``; the default forwards as is."""

    def __init__(self, inner: Driver) -> None:
        self.inner = inner
        self.name = inner.name
        self._own_limits: DriverLimits | None = None

    # -- the hook --------------------------------------------------------------------------
    async def around(self, call: DriverCall[T], proceed: Proceed[T]) -> T:
        """Runs around every I/O call to the inner driver; override it to make a middleware.

        Call ``await proceed(call)`` (or a changed call) to go on, and return its result
        (or one of the same type); raise to refuse the call.
        """
        return await proceed(call)

    async def _forward(self, call: DriverCall[T]) -> T:
        method = getattr(self.inner, call.operation)
        if call.collection is None:
            result = await method(*call.args, **call.kwargs)
        else:
            result = await method(call.collection, *call.args, **call.kwargs)
        # The one unchecked step: the method named by the call returns its call's T.
        return cast(T, result)

    # -- forwarded without the hook (no I/O) -------------------------------------------------
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

    def describe(self) -> str:
        return self.inner.describe()

    def can_find(self, collection: str, query: Query) -> bool:
        return self.inner.can_find(collection, query)

    # -- every I/O method, through the hook ------------------------------------------------
    # Each builds its DriverCall with the return type as T (from the annotation), so that
    # ``around`` and ``proceed`` are typed per operation without a cast in any middleware.
    async def open(self) -> None:
        call: DriverCall[None] = DriverCall("open")
        await self.around(call, self._forward)

    async def aclose(self) -> None:
        call: DriverCall[None] = DriverCall("aclose")
        await self.around(call, self._forward)

    async def ping(self) -> None:
        call: DriverCall[None] = DriverCall("ping")
        await self.around(call, self._forward)

    async def get(self, collection: str, doc_id: str) -> Record | None:
        call: DriverCall[Record | None] = DriverCall("get", collection, (doc_id,))
        return await self.around(call, self._forward)

    async def put(
        self,
        collection: str,
        doc_id: str,
        body: Body,
        *,
        if_rev: str | None = None,
        if_absent: bool = False,
    ) -> str:
        conditions = {"if_rev": if_rev, "if_absent": if_absent}
        call: DriverCall[str] = DriverCall("put", collection, (doc_id, body), conditions)
        return await self.around(call, self._forward)

    async def patch(
        self, collection: str, doc_id: str, change: Change, *, if_rev: str | None = None
    ) -> Record | None:
        # A write, like put: read-only middleware refuses it. ``change`` runs inside the
        # backend's driver, on the bodies it stores.
        call: DriverCall[Record | None] = DriverCall(
            "patch", collection, (doc_id, change), {"if_rev": if_rev}
        )
        return await self.around(call, self._forward)

    async def delete(self, collection: str, doc_id: str, *, if_rev: str | None = None) -> bool:
        call: DriverCall[bool] = DriverCall("delete", collection, (doc_id,), {"if_rev": if_rev})
        return await self.around(call, self._forward)

    async def scan(self, collection: str, *, after: str | None, limit: int) -> ScanPage:
        where = {"after": after, "limit": limit}
        call: DriverCall[ScanPage] = DriverCall("scan", collection, (), where)
        return await self.around(call, self._forward)

    async def get_many(self, collection: str, ids: Sequence[str]) -> dict[str, Record]:
        call: DriverCall[dict[str, Record]] = DriverCall("get_many", collection, (ids,))
        return await self.around(call, self._forward)

    async def put_many(self, collection: str, writes: Sequence[WriteRequest]) -> list[WriteOutcome]:
        call: DriverCall[list[WriteOutcome]] = DriverCall("put_many", collection, (writes,))
        return await self.around(call, self._forward)

    async def delete_many(
        self, collection: str, deletes: Sequence[DeleteRequest]
    ) -> list[WriteOutcome]:
        call: DriverCall[list[WriteOutcome]] = DriverCall("delete_many", collection, (deletes,))
        return await self.around(call, self._forward)

    async def find(self, collection: str, query: Query, limit: int | None) -> list[Record]:
        call: DriverCall[list[Record]] = DriverCall("find", collection, (query, limit))
        return await self.around(call, self._forward)

    async def ensure_index(
        self, collection: str, fields: Sequence[FieldPath], *, order_by: Sequence[Order] = ()
    ) -> None:
        call: DriverCall[None] = DriverCall(
            "ensure_index", collection, (fields,), {"order_by": order_by}
        )
        await self.around(call, self._forward)

    async def list_collections(self) -> list[str]:
        call: DriverCall[list[str]] = DriverCall("list_collections")
        return await self.around(call, self._forward)

    async def drop_collection(self, collection: str) -> None:
        call: DriverCall[None] = DriverCall("drop_collection", collection)
        await self.around(call, self._forward)
