"""Dependencies of the document API's routes: the collection name (checked by the
document contract's own rule, so a bad name gets the face's message) and the schema set
of the application."""

from __future__ import annotations

from types import MappingProxyType
from typing import Annotated, Final

from fastapi import Depends, Path, Request

from asyncdb._documents import (
    MAX_COLLECTION_NAME_LENGTH,
    MIN_COLLECTION_NAME_LENGTH,
    validate_collection_name,
)
from asyncdb.server._validation import Schemas

__all__ = ["STATE_SCHEMAS", "CollectionName", "SchemaSet", "get_schemas"]

STATE_SCHEMAS: Final = "asyncdb_schemas"
_NO_SCHEMAS: Final[Schemas] = MappingProxyType({})


def _collection(
    collection: Annotated[
        str,
        Path(
            description=(
                f"collection name: {MIN_COLLECTION_NAME_LENGTH} to "
                f"{MAX_COLLECTION_NAME_LENGTH} characters a-z, 0-9, '_' or '-', from a letter"
            )
        ),
    ],
) -> str:
    # The face's rule and message (InvalidNameError, 422), not a restated pattern.
    return validate_collection_name(collection)


def get_schemas(request: Request) -> Schemas:
    """The app's schema set (empty: a generic document API)."""
    schemas: Schemas = getattr(request.app.state, STATE_SCHEMAS, _NO_SCHEMAS)
    return schemas


CollectionName = Annotated[str, Depends(_collection)]
SchemaSet = Annotated[Schemas, Depends(get_schemas)]
