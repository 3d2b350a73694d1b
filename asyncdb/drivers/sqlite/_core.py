"""What the SQLite driver's parts share: the transport, and how rows become records."""

from __future__ import annotations

import logging

from asyncdb.drivers.base import Driver, Record
from asyncdb.drivers.sqlite._codec import record
from asyncdb.drivers.sqlite._transport import Row, Transport
from asyncdb.errors import ConflictError

__all__ = ["SQLiteCore"]

logger = logging.getLogger("asyncdb")


class SQLiteCore(Driver):
    """The state of ``SQLiteDriver`` that its mixins (``_bulk``, ``_query``) use."""

    _transport: Transport
    _find_page_size: int

    def _readable(self, collection: str, rows: list[Row]) -> list[Record]:
        """The records of ``rows``; a row that is not a document is left out and logged,
        so that one bad row never breaks a read of the others."""
        records: list[Record] = []
        for row in rows:
            found, reason = record(*row)
            if found is None:
                logger.warning(
                    "%s: skipped the row %.80r of collection %r: %s",
                    self._transport.where,
                    row[0],
                    collection,
                    reason,
                )
                continue
            records.append(found)
        return records

    @staticmethod
    def _stale(collection: str, doc_id: str) -> ConflictError:
        return ConflictError(f"stale revision for document {doc_id!r} in {collection!r}")
