"""The CouchDB provider: ``CouchDBDriver`` over the CouchDB HTTP API (needs aiohttp)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from asyncdb.drivers._lazy import lazy_attributes

if TYPE_CHECKING:
    from asyncdb.drivers.couchdb.driver import CouchDBDriver

__all__ = ["CouchDBDriver"]

# The driver and its client library load on first use of the class.
__getattr__ = lazy_attributes(__name__, {"CouchDBDriver": "asyncdb.drivers.couchdb.driver"})
