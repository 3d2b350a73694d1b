"""The CouchDB provider: ``CouchDBDriver`` over the CouchDB HTTP API (needs aiohttp)."""

from asyncdb.drivers.couchdb.driver import CouchDBDriver

__all__ = ["CouchDBDriver"]
