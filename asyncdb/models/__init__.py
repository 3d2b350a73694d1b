"""Typed collections: pydantic models of documents, and the face's operations over them.

``TypedCollection(db, Invoice)`` gives ``get``/``save``/``create``/``update``/``find``/
``iter_all``/``list_page``/bulk calls with models instead of dicts; define a model by
subclassing ``DocumentModel``. The seven models of the application asyncdb was first
built for are an opt-in schema set of their own: ``asyncdb.schemas``.
"""

from asyncdb.models.base import (
    DocumentModel,
    StoredSecret,
    UtcDateTime,
    sortable_id,
    utc_now,
    uuid4_id,
)
from asyncdb.models.collection import ModelUpdateFunction, TypedCollection, TypedPage

__all__ = [
    "DocumentModel",
    "ModelUpdateFunction",
    "StoredSecret",
    "TypedCollection",
    "TypedPage",
    "UtcDateTime",
    "sortable_id",
    "utc_now",
    "uuid4_id",
]
