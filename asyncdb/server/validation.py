"""Request documents of the seven known collections are validated against their models.

Other collections take any document the contract accepts. A document that fails its
model is refused with 422 and the field errors (location, message, type; never the
input, which may hold secrets).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError as PydanticValidationError

from asyncdb.documents import Document
from asyncdb.errors import InvalidDocumentError
from asyncdb.models import SCHEMA_MODELS

__all__ = ["ModelValidationError", "strip_secrets", "validate_document"]


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


def validate_document(collection: str, doc_id: str, document: Mapping[str, Any]) -> Document:
    """``document`` as its collection's model normalises it (defaults filled, timestamps
    in UTC), or unchanged for a collection without a model. ``_rev`` is kept."""
    model = SCHEMA_MODELS.get(collection)
    if model is None:
        return dict(document)
    if "_id" in document and document["_id"] != doc_id:
        raise InvalidDocumentError("_id does not match the document id in the path", "$._id")
    try:
        validated = model.model_validate({**document, "_id": doc_id})
    except PydanticValidationError as exc:
        raise ModelValidationError(collection, exc) from None
    return validated.to_document()


def strip_secrets(collection: str, document: Document) -> Document:
    """``document`` without its collection's secret fields (for listings)."""
    model = SCHEMA_MODELS.get(collection)
    if model is None or not model.secret_fields:
        return document
    return {key: value for key, value in document.items() if key not in model.secret_fields}
