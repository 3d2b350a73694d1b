"""The fields a write through a model keeps from the stored document when it omits them.

A model's defaults would otherwise erase what is stored: a user written back from a
listing (which withheld ``api_keys``) would store ``api_keys: null``, a model built
afresh would reset ``created_at``. ``TypedCollection`` and ``asyncdb serve`` both read
the stored values of such omitted fields (one extra read, only when one is omitted).
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from typing import Any

from asyncdb._documents import Document
from asyncdb._service import DatabaseService
from asyncdb.errors import NotFoundError
from asyncdb.models.base import DocumentModel

__all__ = ["fill_kept_fields", "missing_kept_fields"]


def missing_kept_fields(model: type[DocumentModel], given: Set[str]) -> list[str]:
    """The fields of ``model.kept_fields()`` that are not in ``given``, sorted."""
    return [name for name in sorted(model.kept_fields()) if name not in given]


async def fill_kept_fields(
    db: DatabaseService,
    collection: str,
    doc_id: str,
    model: type[DocumentModel],
    document: Mapping[str, Any],
    given: Set[str],
) -> Document:
    """``document`` with the stored values of ``model.kept_fields()`` that are not in
    ``given`` (the fields the writer set). Nothing is read when every one was given.

    The read is not made a condition of the write: a conditional write fails anyway if
    the document changed since the revision it names, and an unconditional one is a
    last-writer-wins overwrite by definition; the creation time never changes.
    """
    missing = missing_kept_fields(model, given)
    if not missing:
        return dict(document)
    try:
        stored = await db.get(collection, doc_id)
    except NotFoundError:
        return dict(document)
    return {**document, **{name: stored[name] for name in missing if name in stored}}
