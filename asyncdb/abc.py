"""The face's API as one protocol, and the types it speaks (as ``anyio.abc``).

``DocumentService`` is the awaited API of asyncdb, written once. ``DatabaseService``
implements it (mypy checks that, below); the blocking ``SyncDatabaseService`` has the same
methods without ``await`` (``aclose`` is ``close``), and a test holds both, and the test
harness's adapter, to these signatures. Type your own code against ``DocumentService`` to
accept any implementation: the service itself, a wrapper of yours, a test double.

``Driver``, ``Record`` and ``WriteOutcome`` are the driver's side of the contract (see
``docs/implementing-a-driver.md``); ``Page``, ``BulkResult`` and ``Document`` are what the
face returns.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, Protocol

from asyncdb._documents import Document
from asyncdb._results import BulkResult, Page
from asyncdb._service import DatabaseService, UpdateFunction
from asyncdb.drivers.base import Driver, Record, WriteOutcome

__all__ = [
    "BulkResult",
    "Document",
    "DocumentService",
    "Driver",
    "Page",
    "Record",
    "UpdateFunction",
    "WriteOutcome",
]


class DocumentService(Protocol):
    """The awaited API of asyncdb, identical on every backend.

    The semantics of each method are ``DatabaseService``'s (``docs/api.md``).
    """

    async def open(self) -> None:
        """Connect eagerly (optional: the first operation connects too)."""

    async def aclose(self) -> None:
        """Release the backend's connections. Idempotent."""

    async def ping(self) -> None:
        """Raise ``BackendUnavailableError`` or ``AuthenticationError`` if unusable."""

    async def get(self, collection: str, doc_id: str) -> Document:
        """The document with ``_id`` and ``_rev``; ``NotFoundError`` if missing."""

    async def save(self, collection: str, doc_id: str, doc: Mapping[str, Any] | Any) -> Document:
        """Upsert; conditional on the document's ``_rev`` if it carries one."""

    async def create(self, collection: str, doc_id: str, doc: Mapping[str, Any] | Any) -> Document:
        """Write only if ``doc_id`` is free, else ``ConflictError``."""

    async def update(
        self,
        collection: str,
        doc_id: str,
        fn: UpdateFunction,
        *,
        default: Mapping[str, Any] | None = None,
        attempts: int | None = None,
    ) -> Document:
        """Read, apply ``fn``, write back conditionally; retry on conflict."""

    async def patch(
        self,
        collection: str,
        doc_id: str,
        *,
        set: Mapping[str, Any] | None = None,
        unset: Sequence[str] | None = None,
        increment: Mapping[str, int | float] | None = None,
        rev: str | None = None,
        attempts: int | None = None,
    ) -> Document:
        """Set, unset and increment fields by dotted path; conditional with ``rev``."""

    async def delete(self, collection: str, doc_id: str, rev: str | None = None) -> bool:
        """Delete; whether the document existed."""

    async def list_all(self, collection: str) -> list[Document]:
        """Every document of the collection; ``[]`` if it does not exist."""

    def iter_all(self, collection: str, page_size: int = 500) -> AsyncIterator[Document]:
        """Every document, page by page, in constant memory."""

    async def list_page(self, collection: str, limit: int = 100, cursor: str | None = None) -> Page:
        """One page of at most ``limit`` documents and the cursor of the next page."""

    async def get_many(self, collection: str, ids: Sequence[str]) -> dict[str, Document | None]:
        """``{id: document or None}`` in the order of ``ids``."""

    async def save_many(
        self, collection: str, docs: Sequence[Mapping[str, Any] | Any]
    ) -> BulkResult:
        """Save many documents; one outcome per document, in order."""

    async def delete_many(
        self, collection: str, ids: Sequence[str | Mapping[str, Any]]
    ) -> BulkResult:
        """Delete many documents (ids, or documents whose ``_rev`` makes it conditional)."""

    async def find(
        self,
        collection: str,
        where: Mapping[str, Any],
        fields: Sequence[str] | None = None,
        limit: int | None = None,
        *,
        order_by: Sequence[str] | None = None,
        strict: bool = False,
    ) -> list[Document]:
        """Documents matching ``where``, in ``order_by`` order (ties by ``_id``)."""

    async def find_page(
        self,
        collection: str,
        where: Mapping[str, Any],
        *,
        order_by: Sequence[str] | None = None,
        limit: int = 100,
        cursor: str | None = None,
        strict: bool = False,
    ) -> Page:
        """One page of ``find`` and the cursor of the next page."""

    async def ensure_index(
        self, collection: str, fields: Sequence[str], *, order_by: Sequence[str] | None = None
    ) -> None:
        """An index on ``fields`` where the backend needs one (idempotent)."""

    async def list_collections(self) -> list[str]:
        """Names of the collections that exist, sorted."""

    async def drop_collection(self, collection: str) -> None:
        """Delete the collection and its documents; a missing one is not an error."""

    async def check_document(self, doc_id: str, doc: Mapping[str, Any] | Any) -> Document:
        """Check ``doc`` as ``save`` would, without writing it."""


# ``DatabaseService`` is the reference implementation: mypy fails here if it drifts.
_: type[DocumentService] = DatabaseService
