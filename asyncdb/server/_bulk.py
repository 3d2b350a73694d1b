"""The document API's bulk calls and queries: ``_bulk_get``, ``_bulk_save``,
``_bulk_delete`` and ``_find`` (POST ``/v1/{collection}/_...``).

Their paths cannot collide with a document: a document route never answers POST.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from asyncdb._documents import Document
from asyncdb._query import parse_query
from asyncdb._results import BulkResult
from asyncdb._service import DatabaseService
from asyncdb.errors import AsyncDBError, InvalidDocumentError, InvalidNameError
from asyncdb.fastapi import Database, error_body, public_message
from asyncdb.models._kept import missing_kept_fields
from asyncdb.server._bodies import (
    BulkDeleteIn,
    BulkGetIn,
    BulkGetOut,
    BulkOut,
    BulkSaveIn,
    FindIn,
    FindOut,
)
from asyncdb.server._bodies import error_responses as _errors
from asyncdb.server._deps import CollectionName as Collection
from asyncdb.server._deps import SchemaSet
from asyncdb.server._validation import Schemas, generated_id, strip_secrets, validate_document

__all__ = ["router"]

router = APIRouter()
Route = TypeVar("Route", bound=Callable[..., Any])


def _collection_call(
    name: str, model: type[Any], summary: str, *statuses: int
) -> Callable[[Route], Route]:
    """``POST /v1/{collection}/<name>``: a call on a whole collection, answered by
    ``model``, with the error statuses it can give in its OpenAPI description."""
    return router.post(
        f"/v1/{{collection}}/{name}",
        response_model=model,
        responses=_errors(*statuses),
        summary=summary,
    )


@_collection_call("_bulk_get", BulkGetOut, "Read many documents by id", 415, 422, 503)
async def bulk_get(collection: Collection, request: BulkGetIn, db: Database) -> JSONResponse:
    """``{id: document or null}`` (reads by id: secret fields included)."""
    return JSONResponse({"documents": await db.get_many(collection, request.ids)})


@_collection_call("_bulk_save", BulkOut, "Save many documents", 413, 415, 422, 503)
async def bulk_save(
    collection: Collection, request: BulkSaveIn, db: Database, schemas: SchemaSet
) -> JSONResponse:
    """One outcome per document: an invalid or conflicting one fails alone. A document
    without ``_id`` gets one from its schema model's ``id_factory``, if it has one."""
    refused: dict[int, tuple[str, AsyncDBError]] = {}
    named: list[tuple[int, str, Mapping[str, Any]]] = []
    for index, document in enumerate(request.documents):
        doc_id = document.get("_id")
        if doc_id is None:
            doc_id = generated_id(schemas, collection)
        if not isinstance(doc_id, str):
            shown = "" if document.get("_id") is None else str(document["_id"])
            refused[index] = (shown, InvalidNameError("each document needs an _id (a string)"))
            continue
        named.append((index, doc_id, document))
    stored = await _stored_kept_fields(db, schemas, collection, named)
    accepted: list[Document] = []
    for index, doc_id, item in named:
        try:
            kept = {**item, **stored.get(doc_id, {}), "_id": doc_id}
            accepted.append(validate_document(schemas, collection, doc_id, kept))
        except InvalidDocumentError as exc:
            refused[index] = (doc_id, exc)
    result = await db.save_many(collection, accepted)
    written = iter(result)
    outcomes = []
    for index in range(len(request.documents)):
        if index in refused:
            doc_id, error = refused[index]
            outcomes.append(_outcome(doc_id, None, error))
        else:
            outcome = next(written)
            outcomes.append(_outcome(outcome.id, outcome.rev, outcome.error))
    return JSONResponse({"results": outcomes})


async def _stored_kept_fields(
    db: DatabaseService,
    schemas: Schemas,
    collection: str,
    named: list[tuple[int, str, Mapping[str, Any]]],
) -> dict[str, dict[str, Any]]:
    """``{id: stored values of the kept fields its document omits}``, in one read."""
    model = schemas.get(collection)
    if model is None:
        return {}
    wanted = {
        doc_id: missing
        for _, doc_id, document in named
        if (missing := missing_kept_fields(model, set(document)))
    }
    if not wanted:
        return {}
    found = await db.get_many(collection, list(wanted))
    return {
        doc_id: {name: stored[name] for name in wanted[doc_id] if name in stored}
        for doc_id, stored in found.items()
        if stored is not None
    }


@_collection_call("_bulk_delete", BulkOut, "Delete many documents", 415, 422, 503)
async def bulk_delete(collection: Collection, request: BulkDeleteIn, db: Database) -> JSONResponse:
    """One outcome per item; missing documents succeed; ``_rev`` makes a delete conditional."""
    return JSONResponse({"results": _outcomes(await db.delete_many(collection, request.ids))})


@_collection_call("_find", FindOut, "Find documents: filter, order, page", 400, 415, 422, 503)
async def find(
    collection: Collection, request: FindIn, db: Database, schemas: SchemaSet
) -> JSONResponse:
    """Documents matching ``where``, in ``order_by`` order; ``fields`` projects (``_id``
    and ``_rev`` always come back). With ``limit`` or ``cursor``: one page and
    ``next_cursor``; a cursor from another collection or query is a 400."""
    next_cursor: str | None = None
    if request.limit is None and request.cursor is None:
        found = await db.find(
            collection,
            request.where,
            request.fields,
            order_by=request.order_by,
            strict=request.strict,
        )
    else:
        projection = parse_query({}, request.fields)  # a bad projection: 422 before I/O
        page = await db.find_page(
            collection,
            request.where,
            order_by=request.order_by,
            limit=request.limit or 100,
            cursor=request.cursor,
            strict=request.strict,
        )
        found = [
            {"_id": doc["_id"], "_rev": doc["_rev"], **projection.project(doc)}
            for doc in page.items
        ]
        next_cursor = page.next_cursor
    if not request.include_secrets:
        found = [strip_secrets(schemas, collection, document) for document in found]
    return JSONResponse({"items": found, "next_cursor": next_cursor})


def _outcomes(result: BulkResult) -> list[dict[str, Any]]:
    return [_outcome(outcome.id, outcome.rev, outcome.error) for outcome in result]


def _outcome(doc_id: str, rev: str | None, error: AsyncDBError | None) -> dict[str, Any]:
    if error is None:
        return {"id": doc_id, "ok": True, "rev": rev, "error": None}
    details = getattr(error, "details", None)
    body = error_body(
        error.status_code,
        type(error).__name__,
        public_message(error),
        details if isinstance(details, list) else None,
    )
    return {"id": doc_id, "ok": False, "rev": None, "error": body["error"]}
