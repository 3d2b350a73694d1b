"""``TypedCollection``: the face's operations with pydantic models instead of dicts.

A model read from the collection carries its revision (``model.rev``), and ``save`` of
that model is conditional on it: a read-modify-write that lost a race raises
``ConflictError`` instead of overwriting. ``update`` retries such races for you.

Every write sets the model's update timestamp to now; a ``save`` that omits the creation
timestamp or a secret field keeps the stored one (``models/_kept.py``).
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from asyncdb._documents import Document
from asyncdb._results import BulkResult
from asyncdb._service import DatabaseService
from asyncdb.errors import ConfigurationError, InvalidDocumentError
from asyncdb.models._kept import fill_kept_fields, missing_kept_fields
from asyncdb.models.base import DocumentModel

__all__ = ["ModelUpdateFunction", "TypedCollection", "TypedPage"]

M = TypeVar("M", bound=DocumentModel)

#: ``update``'s callback: gets a copy of the current model, returns the new one (or
#: changes its argument and returns ``None``); plain or async.
ModelUpdateFunction = Callable[[M], M | Awaitable[M | None] | None]


@dataclass(slots=True)
class TypedPage(Generic[M]):
    """One page of models and the cursor of the next page (``None`` at the end)."""

    items: list[M] = field(default_factory=list)
    next_cursor: str | None = None


class TypedCollection(Generic[M]):
    """One collection of ``model`` documents over a ``DatabaseService``.

    ``TypedCollection(db, Agent)`` uses ``Agent.collection_name``; pass ``name`` for
    another collection. The service stays the caller's: this object owns nothing.

    Listings (``find``, ``iter_all``, ``list_all``, ``list_page``) leave the model's
    ``secret_fields`` out unless ``include_secrets=True``; such models cannot be saved
    back (that would erase the secrets): ``get`` the document first.
    """

    def __init__(self, db: DatabaseService, model: type[M], name: str | None = None) -> None:
        collection = name if name is not None else model.collection_name
        if collection is None:
            raise ConfigurationError(
                f"{model.__name__} has no collection_name; pass the collection name"
            )
        self._db = db
        self._model = model
        self._name = collection

    def __repr__(self) -> str:
        return f"<TypedCollection {self._name!r} of {self._model.__name__}>"

    @property
    def name(self) -> str:
        """The collection name."""
        return self._name

    @property
    def model(self) -> type[M]:
        """The model class of the documents."""
        return self._model

    # -- single documents ------------------------------------------------------------------
    async def get(self, doc_id: str) -> M:
        """The model of document ``doc_id``; ``NotFoundError`` (404) if missing."""
        return self._load(await self._db.get(self._name, doc_id))

    async def save(self, item: M) -> M:
        """Upsert ``item`` under ``item.id``; conditional on ``item.rev`` when it has one
        (``ConflictError`` if that is no longer current). Returns the stored model.

        Fields of ``model.kept_fields()`` that ``item`` never set (a model built afresh:
        its ``created_at`` is a default) keep their stored values."""
        document = await fill_kept_fields(
            self._db, self._name, item.id, self._model, self._dump(item), item.model_fields_set
        )
        return self._load(await self._db.save(self._name, item.id, document))

    async def create(self, item: M) -> M:
        """Write ``item`` only if ``item.id`` is free, else ``ConflictError`` (409)."""
        if item.rev is not None:
            raise InvalidDocumentError("create() takes a new document, without rev", "$._rev")
        return self._load(await self._db.create(self._name, item.id, self._dump(item)))

    async def update(
        self,
        doc_id: str,
        fn: ModelUpdateFunction[M],
        *,
        default: M | None = None,
        attempts: int | None = None,
    ) -> M:
        """Read, apply ``fn`` to a copy of the model, write back conditionally, and retry
        on conflict (see ``DatabaseService.update``). ``fn`` may run more than once.

        With ``default``, a missing document is created from ``fn(copy of default)``.
        """

        async def apply(document: Document) -> Document:
            # A document created from ``default`` arrives without its ``_id``.
            current = self._load({**document, "_id": doc_id})
            result = fn(current)
            if inspect.isawaitable(result):
                result = await result
            new = current if result is None else result
            if not isinstance(new, self._model):
                raise InvalidDocumentError(
                    f"update function returned {type(new).__name__}, not {self._model.__name__}"
                )
            return self._dump(new, include_rev=False)

        if default is not None and default.id != doc_id:
            # A default built without an id got a generated one: the document is doc_id.
            default = default.model_copy(update={"id": doc_id})

        seed = None if default is None else self._dump(default, include_rev=False)
        stored = await self._db.update(self._name, doc_id, apply, default=seed, attempts=attempts)
        return self._load(stored)

    async def delete(self, item: str | M) -> bool:
        """Delete by id, or delete a model (conditional on its ``rev`` when it has one).
        Returns whether a document was removed."""
        if isinstance(item, str):
            return await self._db.delete(self._name, item)
        return await self._db.delete(self._name, item.id, rev=item.rev)

    # -- listing and queries ---------------------------------------------------------------
    async def find(
        self,
        where: Mapping[str, Any],
        *,
        limit: int | None = None,
        include_secrets: bool = False,
    ) -> list[M]:
        """Models whose stored top-level fields equal ``where`` (see ``DatabaseService.find``;
        field names are the stored ones, e.g. ``userId``). For projections use the face."""
        found = await self._db.find(self._name, where, limit=limit)
        return [self._load(document, include_secrets) for document in found]

    async def iter_all(
        self, page_size: int = 500, *, include_secrets: bool = False
    ) -> AsyncIterator[M]:
        """Every model, streamed page by page."""
        async for document in self._db.iter_all(self._name, page_size):
            yield self._load(document, include_secrets)

    async def list_all(self, *, include_secrets: bool = False) -> list[M]:
        """Every model; prefer ``iter_all`` for large collections."""
        return [item async for item in self.iter_all(include_secrets=include_secrets)]

    async def list_page(
        self, limit: int = 100, cursor: str | None = None, *, include_secrets: bool = False
    ) -> TypedPage[M]:
        """One page of models and the next cursor (see ``DatabaseService.list_page``)."""
        page = await self._db.list_page(self._name, limit, cursor)
        items = [self._load(document, include_secrets) for document in page.items]
        return TypedPage(items, page.next_cursor)

    # -- bulk ------------------------------------------------------------------------------
    async def get_many(self, ids: Sequence[str]) -> dict[str, M | None]:
        """``{id: model or None}`` in the order of ``ids`` (reads by id: secrets included)."""
        found = await self._db.get_many(self._name, ids)
        return {
            doc_id: None if document is None else self._load(document)
            for doc_id, document in found.items()
        }

    async def save_many(self, items: Sequence[M]) -> BulkResult:
        """Save many models (each conditional on its ``rev``); one outcome per model.

        As in ``save``, kept fields a model never set keep their stored values (read with
        one ``get_many``, only for the models that omit some)."""
        documents = [self._dump(item) for item in items]
        omitting = {
            item.id: missing
            for item in items
            if (missing := missing_kept_fields(self._model, item.model_fields_set))
        }
        if omitting:
            stored = await self._db.get_many(self._name, list(omitting))
            for item, document in zip(items, documents, strict=True):
                current = stored.get(item.id)
                if item.id in omitting and current is not None:
                    document.update(
                        {name: current[name] for name in omitting[item.id] if name in current}
                    )
        return await self._db.save_many(self._name, documents)

    async def delete_many(self, items: Sequence[str | M]) -> BulkResult:
        """Delete many, by id or by model (conditional on its ``rev``)."""
        targets: list[str | Mapping[str, Any]] = [
            item if isinstance(item, str) else {"_id": item.id, "_rev": item.rev} for item in items
        ]
        return await self._db.delete_many(self._name, targets)

    # -- conversions -----------------------------------------------------------------------
    def _load(self, document: Document, include_secrets: bool = True) -> M:
        return self._model.from_document(document, include_secrets=include_secrets)

    def _dump(self, item: M, *, include_rev: bool = True) -> Document:
        if not isinstance(item, self._model):
            raise InvalidDocumentError(
                f"{self!r} stores {self._model.__name__}, not {type(item).__name__}"
            )
        if item.secrets_withheld:
            hidden = ", ".join(sorted(self._model.secret_fields))
            raise InvalidDocumentError(
                f"this {self._model.__name__} was read by a listing without its secret fields "
                f"({hidden}); saving it would erase them: get() it first, or list with "
                "include_secrets=True",
                "$",
            )
        stamped = item.model_copy()
        stamped.touch()
        return stamped.to_document(include_rev=include_rev)
