"""``PrefixMiddleware``: several environments (or tests) share one account, isolated by
a collection-name prefix."""

from __future__ import annotations

from asyncdb._documents import validate_prefix
from asyncdb.drivers.base import Driver
from asyncdb.middleware.base import DriverWrapper

__all__ = ["PrefixMiddleware"]


class PrefixMiddleware(DriverWrapper):
    """Prepends ``prefix`` to every collection name before the inner driver sees it."""

    def __init__(self, inner: Driver, prefix: str) -> None:
        super().__init__(inner)
        self.prefix = validate_prefix(prefix)

    def collection(self, name: str) -> str:
        return self.prefix + name

    async def list_collections(self) -> list[str]:
        """The inner driver's collections that carry the prefix, without it."""
        names = await self.inner.list_collections()
        return [name[len(self.prefix) :] for name in names if name.startswith(self.prefix)]

    def describe(self) -> str:
        return f"{self.inner.describe()} (prefix {self.prefix!r})"
