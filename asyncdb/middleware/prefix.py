"""``PrefixMiddleware``: several environments (or tests) share one account, isolated by
a collection-name prefix."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from asyncdb._documents import validate_prefix
from asyncdb.drivers.base import Driver
from asyncdb.middleware.base import DriverCall, DriverWrapper, Proceed

if TYPE_CHECKING:
    from asyncdb._query import Query

__all__ = ["PrefixMiddleware"]

T = TypeVar("T")


class PrefixMiddleware(DriverWrapper):
    """Prepends ``prefix`` to every collection name before the inner driver sees it."""

    def __init__(self, inner: Driver, prefix: str) -> None:
        super().__init__(inner)
        self.prefix = validate_prefix(prefix)

    async def around(self, call: DriverCall[T], proceed: Proceed[T]) -> T:
        # Names going in are rewritten in the hook, so that no operation (nor one added to
        # the ABC later) can reach an unprefixed collection of another environment.
        if call.collection is not None:
            call = call.with_collection(self.prefix + call.collection)
        return await proceed(call)

    async def list_collections(self) -> list[str]:
        """The inner driver's collections that carry the prefix, without it."""
        # Names coming out concern this one operation's result: an override (still routed
        # through the hook by super()) says that in its own types, where the generic hook
        # would need a cast.
        names = await super().list_collections()
        return [name[len(self.prefix) :] for name in names if name.startswith(self.prefix)]

    def can_find(self, collection: str, query: Query) -> bool:
        # Synchronous, so not routed through ``around``: renamed here the same way, since
        # a driver knows its indexes by the names it stores.
        return self.inner.can_find(self.prefix + collection, query)

    def describe(self) -> str:
        return f"{self.inner.describe()} (prefix {self.prefix!r})"
