"""``DATABASE_SIZE_LIMIT`` for the face: the portable limit, or the backend's own.

``portable`` applies the contract's measure and 400,000-byte limit on every backend (in
``prepare_document``). ``native`` skips it and applies the driver's own measure
(``Driver.native_document_size``) against its own limit
(``DriverLimits.native_document_bytes``, or ``MAX_NATIVE_DOCUMENT_BYTES`` when the backend
has none). Either way the check happens before any write reaches the driver.
"""

from __future__ import annotations

from asyncdb._documents import (
    MAX_DOCUMENT_BYTES,
    MAX_NATIVE_DOCUMENT_BYTES,
    SIZE_LIMITS,
    PreparedDocument,
    _shown,
    prepare_document,
)
from asyncdb.drivers.base import Body, Driver, WriteOutcome, WriteRequest
from asyncdb.errors import ConfigurationError, DocumentTooLargeError

__all__ = ["SizeGuard"]


class SizeGuard:
    """Prepares documents for one service under its size mode."""

    __slots__ = ("_driver", "_opened", "native", "portable_max")

    def __init__(self, driver: Driver, mode: object) -> None:
        if mode not in SIZE_LIMITS:
            raise ConfigurationError(
                f"size_limit must be one of {', '.join(SIZE_LIMITS)}, not {_shown(mode)}"
            )
        self._driver = driver
        self._opened = False
        self.native = mode == "native"
        #: The portable limit to apply in ``prepare_document``; ``None`` under native.
        self.portable_max: int | None = None if self.native else MAX_DOCUMENT_BYTES

    @property
    def mode(self) -> str:
        return "native" if self.native else "portable"

    def opened(self) -> None:
        """The service opened the driver: its limits are known."""
        self._opened = True

    def prepare_portable(self, doc: object, doc_id: str) -> PreparedDocument:
        """Validate and convert; the portable size check only in portable mode."""
        return prepare_document(doc, doc_id, max_bytes=self.portable_max)

    async def prepare(self, doc_id: str, doc: object) -> PreparedDocument:
        """Validate, convert and check the size under this mode."""
        prepared = prepare_document(doc, doc_id, max_bytes=self.portable_max)
        if self.native:
            self._check(doc_id, prepared.body, await self._limit())
        return prepared

    async def keep_fitting(
        self, outcomes: list[WriteOutcome], writes: list[tuple[int, WriteRequest]]
    ) -> list[tuple[int, WriteRequest]]:
        """The writes that fit under native mode; each one that does not gets its
        ``DocumentTooLargeError`` in its outcome and is dropped (it fails alone)."""
        if not self.native or not writes:
            return writes
        limit = await self._limit()
        fitting: list[tuple[int, WriteRequest]] = []
        for index, write in writes:
            try:
                self._check(write.id, write.body, limit)
            except DocumentTooLargeError as exc:
                outcomes[index].error = exc
                continue
            fitting.append((index, write))
        return fitting

    async def _limit(self) -> int:
        # A driver may learn its limit only when it connects (CouchDB reads the server's
        # max_document_size), so the first native check opens the driver, once.
        if not self._opened:
            await self._driver.open()
            self._opened = True
        limit = self._driver.limits.native_document_bytes
        return MAX_NATIVE_DOCUMENT_BYTES if limit is None else limit

    def _check(self, doc_id: str, body: Body, limit: int) -> None:
        size = self._driver.native_document_size(doc_id, body)
        if size > limit:
            raise DocumentTooLargeError(
                f"document {_shown(doc_id)} measures {size} bytes by the {self._driver.name} "
                f"backend's measure; its limit is {limit} (DATABASE_SIZE_LIMIT=native)"
            )
