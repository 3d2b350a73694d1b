"""Opt-in schema validation: documents of the collections a schema set names
(``ServerConfig(schemas=...)``, ``asyncdb serve --schemas MODULE:ATTR``) are validated
against their models; every other collection, and every collection when no set is
configured, takes any document the contract accepts.

A document that fails its model is refused with 422 and the field errors (location,
message, type; never the input, which may hold secrets). A write through a model keeps
the stored values of the fields it omits among ``model.kept_fields()`` (secret fields,
which listings withhold, and the creation time) and sets the update time to now.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError as PydanticValidationError

from asyncdb._documents import Document
from asyncdb._service import DatabaseService
from asyncdb.errors import InvalidDocumentError
from asyncdb.models._kept import fill_kept_fields
from asyncdb.models.base import DocumentModel

__all__ = [
    "ModelValidationError",
    "Schemas",
    "generated_id",
    "prepare_document",
    "strip_secrets",
    "validate_document",
]

Schemas = Mapping[str, type[DocumentModel]]


class ModelValidationError(InvalidDocumentError):
    """A document that its collection's model refuses; ``details`` lists the field errors."""

    def __init__(self, collection: str, error: PydanticValidationError) -> None:
        self.details: list[dict[str, Any]] = [
            {"loc": list(item["loc"]), "msg": item["msg"], "type": item["type"]}
            for item in error.errors(include_url=False, include_input=False, include_context=False)
        ]
        count = len(self.details)
        super().__init__(
            f"the document does not fit the {collection!r} model "
            f"({count} field error{'s' if count != 1 else ''})"
        )


def validate_document(
    schemas: Schemas, collection: str, doc_id: str, document: Mapping[str, Any]
) -> Document:
    """``document`` as its collection's model normalises it (defaults filled, timestamps
    in UTC, the update time set to now), or unchanged for a collection without a model.
    ``_rev`` is kept."""
    model = schemas.get(collection)
    if model is None:
        return dict(document)
    if "_id" in document and document["_id"] != doc_id:
        raise InvalidDocumentError("_id does not match the document id in the path", "$._id")
    try:
        validated = model.model_validate({**document, "_id": doc_id})
    except PydanticValidationError as exc:
        raise ModelValidationError(collection, exc) from None
    validated.touch()
    return validated.to_document()


async def prepare_document(
    db: DatabaseService,
    schemas: Schemas,
    collection: str,
    doc_id: str,
    document: Mapping[str, Any],
) -> Document:
    """``validate_document`` after filling in the stored values of the kept fields the
    request omits (one read, only for a model that has such fields and when omitted)."""
    model = schemas.get(collection)
    if model is not None:
        document = await fill_kept_fields(db, collection, doc_id, model, document, set(document))
    return validate_document(schemas, collection, doc_id, document)


def generated_id(schemas: Schemas, collection: str) -> str | None:
    """A fresh id from the collection model's ``id_factory``, or ``None`` if it has none."""
    model = schemas.get(collection)
    factory = None if model is None else model.id_factory
    return None if factory is None else factory()


def strip_secrets(schemas: Schemas, collection: str, document: Document) -> Document:
    """``document`` without its collection's secret fields (for listings)."""
    model = schemas.get(collection)
    if model is None or not model.secret_fields:
        return document
    return {key: value for key, value in document.items() if key not in model.secret_fields}
