"""The CouchDB provider: ``CouchDBDriver`` over the CouchDB HTTP API (needs aiohttp)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from asyncdb.drivers.couchdb.driver import CouchDBDriver

__all__ = ["CouchDBDriver"]


def __getattr__(name: str) -> Any:
    # The driver (and its client library) loads on first use, so that the registry can
    # read this provider's settings class (``.settings``) without the client library.
    if name == "CouchDBDriver":
        from asyncdb.drivers.couchdb.driver import CouchDBDriver

        return CouchDBDriver
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
