"""The REST document API: ``/v1/{collection}/{id}``, pages, bulk calls, find, health.

Every route awaits the application's ``DatabaseService``; errors become JSON through
``asyncdb.fastapi``'s handlers. A revision travels as the ``ETag``; ``If-Match`` makes a
write or delete conditional and ``If-None-Match: *`` a create (412 when they fail, per
RFC 9110 section 13.1). A ``_rev`` inside a body keeps the face's meaning: a stale one is
a 409 conflict.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Annotated, Any, Final
from urllib.parse import quote

from fastapi import APIRouter, Body, Header, Path, Query
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from asyncdb.documents import MAX_COLLECTION_NAME_LENGTH, Document
from asyncdb.errors import AsyncDBError, ConflictError, InvalidDocumentError, NotFoundError
from asyncdb.fastapi import Database, PreconditionFailedError, error_body, public_message
from asyncdb.results import BulkResult
from asyncdb.server.conditions import BadConditionError, Condition, etag_of, parse_condition
from asyncdb.server.validation import strip_secrets, validate_document
from asyncdb.service import MAX_PAGE_SIZE, DatabaseService

__all__ = ["router"]

logger = logging.getLogger("asyncdb")

MAX_BULK_ITEMS: Final = 1000

router = APIRouter()

# -- parameters and bodies -------------------------------------------------------------------
Collection = Annotated[
    str,
    Path(
        pattern=r"^[a-z][a-z0-9_-]*$",
        min_length=3,
        max_length=MAX_COLLECTION_NAME_LENGTH,
        description="collection name: 3 to 64 characters a-z, 0-9, '_' or '-', from a letter",
    ),
]
DocId = Annotated[
    str,
    Path(
        description="document id: 1 to 1,024 UTF-8 bytes, no '/', no control characters, "
        "not starting with '_', not '.' or '..'"
    ),
]
IfMatch = Annotated[
    str | None,
    Header(description='"<rev>" (the ETag): write/delete only if it is still current; * = exists'),
]
IfNoneMatch = Annotated[
    str | None,
    Header(description="* on PUT: create only if absent; on GET: 304 if the ETag still matches"),
]
IncludeSecrets = Annotated[
    bool,
    Query(description="include secret fields (users.api_keys) in listing results"),
]
JsonObject = dict[str, Any]


class PageOut(BaseModel):
    """One page of documents and the cursor of the next (null at the end)."""

    items: list[JsonObject]
    next_cursor: str | None = None


class BulkGetIn(BaseModel):
    """Ids to read."""

    ids: list[str] = Field(max_length=MAX_BULK_ITEMS)


class BulkGetOut(BaseModel):
    """``{id: document or null}`` in the order asked (duplicates collapse)."""

    documents: dict[str, JsonObject | None]


class BulkSaveIn(BaseModel):
    """Documents to save; each carries ``_id``, and ``_rev`` makes its write conditional."""

    documents: list[JsonObject] = Field(max_length=MAX_BULK_ITEMS)


class BulkDeleteIn(BaseModel):
    """Ids, or ``{"_id": ..., "_rev": ...}`` objects for conditional deletes."""

    ids: list[str | JsonObject] = Field(max_length=MAX_BULK_ITEMS)


class OutcomeError(BaseModel):
    """Why one item of a bulk call failed."""

    status: int
    type: str
    message: str
    details: list[Any] | None = None


class Outcome(BaseModel):
    """What happened to one item of a bulk call."""

    id: str
    ok: bool
    rev: str | None = None
    error: OutcomeError | None = None


class BulkOut(BaseModel):
    """One outcome per item, in order."""

    results: list[Outcome]


class FindIn(BaseModel):
    """A portable query: top-level equality (or ``{"$in": [...]}``) on every field given."""

    where: JsonObject = Field(default_factory=dict)
    fields: list[str] | None = None
    limit: int | None = Field(default=None, ge=1)
    include_secrets: bool = False


class FindOut(BaseModel):
    """The matching documents."""

    items: list[JsonObject]


class DeleteOut(BaseModel):
    """Whether a document was removed (deleting a missing one is not an error)."""

    id: str
    deleted: bool


class HealthOut(BaseModel):
    """The backend answered."""

    status: str
    provider: str


class ErrorDetail(BaseModel):
    """An error: HTTP status, asyncdb error class, message, field errors if any."""

    status: int
    type: str
    message: str
    details: list[Any] | None = None


class ErrorOut(BaseModel):
    """The JSON body of every error answer."""

    error: ErrorDetail


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    names = {
        304: "not modified",
        400: "malformed cursor or condition header",
        404: "document not found",
        409: "conflict: a stale _rev in the body, or a taken id",
        412: "precondition failed: If-Match / If-None-Match did not hold",
        413: "request body or document too large",
        422: "invalid name, id, document or query",
        503: "backend unavailable",
    }
    return {
        code: {"description": names[code], **({} if code == 304 else {"model": ErrorOut})}
        for code in codes
    }


def _created() -> dict[int | str, dict[str, Any]]:
    return {201: {"description": "created (If-None-Match: *)"}}


# -- single documents --------------------------------------------------------------------------
@router.get(
    "/v1/{collection}/{doc_id}",
    response_model=JsonObject,
    responses=_errors(304, 400, 404, 422, 503),
    summary="Read a document (its revision is the ETag)",
)
async def get_document(
    collection: Collection, doc_id: DocId, db: Database, if_none_match: IfNoneMatch = None
) -> Response:
    """The document with ``_id`` and ``_rev``. ``If-None-Match`` with its ETag: 304."""
    condition = parse_condition(if_none_match, "If-None-Match")
    document = await db.get(collection, doc_id)
    etag = etag_of(document["_rev"])
    if condition is not None and condition.matches(document["_rev"], weak=True):
        return Response(status_code=304, headers={"ETag": etag})
    return JSONResponse(document, headers={"ETag": etag})


@router.put(
    "/v1/{collection}/{doc_id}",
    response_model=JsonObject,
    status_code=200,
    responses=_created() | _errors(400, 409, 412, 413, 422, 503),
    summary="Write a document (conditional with If-Match / If-None-Match)",
)
async def put_document(
    collection: Collection,
    doc_id: DocId,
    body: Annotated[JsonObject, Body(description="the document (a JSON object)")],
    db: Database,
    if_match: IfMatch = None,
    if_none_match: IfNoneMatch = None,
) -> JSONResponse:
    """Upsert the document and return it as stored, with its new ``_rev`` and ETag.

    ``If-Match: "<rev>"`` writes only over that revision, ``If-Match: *`` only over an
    existing document, ``If-None-Match: *`` only where none exists (201); a condition that
    does not hold is 412. Without conditions a ``_rev`` in the body still makes the write
    conditional (409 when stale).
    """
    match = parse_condition(if_match, "If-Match")
    none_match = parse_condition(if_none_match, "If-None-Match")
    document = validate_document(collection, doc_id, body)
    created = False
    if match is None and none_match is None:
        stored = await db.save(collection, doc_id, document)
    else:
        stored, created = await _conditional_put(
            db, collection, doc_id, document, match, none_match
        )
    headers = {"ETag": etag_of(stored["_rev"])}
    if created:
        headers["Location"] = f"/v1/{collection}/{quote(doc_id, safe='')}"
    return JSONResponse(stored, status_code=201 if created else 200, headers=headers)


async def _conditional_put(
    db: DatabaseService,
    collection: str,
    doc_id: str,
    document: Document,
    match: Condition | None,
    none_match: Condition | None,
) -> tuple[Document, bool]:
    body_rev = document.pop("_rev", None)
    if match is not None and body_rev is not None and not match.matches(body_rev):
        raise BadConditionError("the _rev in the body and If-Match name different revisions")
    try:
        if match is None and none_match is not None and none_match.any:
            return await db.create(collection, doc_id, document), True
        if none_match is None and match is not None and not match.any and len(match.revs) == 1:
            return await db.save(collection, doc_id, {**document, "_rev": match.revs[0]}), False
        current = await _current_rev(db, collection, doc_id)
        if match is not None and not match.matches(current):
            raise _failed("If-Match", collection, doc_id)
        if none_match is not None and (
            (none_match.any and current is not None) or none_match.matches(current, weak=True)
        ):
            raise _failed("If-None-Match", collection, doc_id)
        if current is None:
            return await db.create(collection, doc_id, document), True
        return await db.save(collection, doc_id, {**document, "_rev": current}), False
    except ConflictError:
        header = "If-Match" if match is not None else "If-None-Match"
        raise _failed(header, collection, doc_id) from None


async def _current_rev(db: DatabaseService, collection: str, doc_id: str) -> str | None:
    try:
        rev: str = (await db.get(collection, doc_id))["_rev"]
    except NotFoundError:
        return None
    return rev


def _failed(header: str, collection: str, doc_id: str) -> PreconditionFailedError:
    return PreconditionFailedError(
        f"{header} did not hold for document {doc_id!r} in collection {collection!r}"
    )


@router.delete(
    "/v1/{collection}/{doc_id}",
    response_model=DeleteOut,
    responses=_errors(400, 412, 422, 503),
    summary="Delete a document (conditional with If-Match)",
)
async def delete_document(
    collection: Collection, doc_id: DocId, db: Database, if_match: IfMatch = None
) -> DeleteOut:
    """Remove the document. A missing one is not an error (``deleted: false``) unless
    ``If-Match`` is given: then the named revision (or any, for ``*``) must be current."""
    match = parse_condition(if_match, "If-Match")
    if match is None:
        return DeleteOut(id=doc_id, deleted=await db.delete(collection, doc_id))
    rev = match.revs[0] if not match.any and len(match.revs) == 1 else None
    if rev is None:
        rev = await _current_rev(db, collection, doc_id)
        if not match.matches(rev):
            raise _failed("If-Match", collection, doc_id)
    try:
        deleted = await db.delete(collection, doc_id, rev=rev)
    except ConflictError:
        raise _failed("If-Match", collection, doc_id) from None
    if not deleted:
        raise _failed("If-Match", collection, doc_id)
    return DeleteOut(id=doc_id, deleted=True)


# -- listing -----------------------------------------------------------------------------------
@router.get(
    "/v1/{collection}",
    response_model=PageOut,
    responses=_errors(400, 422, 503),
    summary="One page of documents",
)
async def list_page(
    collection: Collection,
    db: Database,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 100,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
    include_secrets: IncludeSecrets = False,
) -> JSONResponse:
    """At most ``limit`` documents and ``next_cursor`` (null exactly when none follow)."""
    page = await db.list_page(collection, limit, cursor)
    items = page.items if include_secrets else [strip_secrets(collection, d) for d in page.items]
    return JSONResponse({"items": items, "next_cursor": page.next_cursor})


# -- bulk and queries --------------------------------------------------------------------------
@router.post(
    "/v1/{collection}/_bulk_get",
    response_model=BulkGetOut,
    responses=_errors(422, 503),
    summary="Read many documents by id",
)
async def bulk_get(collection: Collection, request: BulkGetIn, db: Database) -> JSONResponse:
    """``{id: document or null}`` (reads by id: secret fields included)."""
    return JSONResponse({"documents": await db.get_many(collection, request.ids)})


@router.post(
    "/v1/{collection}/_bulk_save",
    response_model=BulkOut,
    responses=_errors(413, 422, 503),
    summary="Save many documents",
)
async def bulk_save(collection: Collection, request: BulkSaveIn, db: Database) -> JSONResponse:
    """One outcome per document: an invalid or conflicting one fails alone."""
    refused: dict[int, AsyncDBError] = {}
    accepted: list[Mapping[str, Any]] = []
    for index, document in enumerate(request.documents):
        doc_id = document.get("_id")
        if isinstance(doc_id, str):
            try:
                document = validate_document(collection, doc_id, document)
            except InvalidDocumentError as exc:
                refused[index] = exc
                continue
        accepted.append(document)
    result = await db.save_many(collection, accepted)
    written = iter(result)
    outcomes = []
    for index, document in enumerate(request.documents):
        if index in refused:
            raw_id = document.get("_id")
            outcomes.append(_outcome(str(raw_id), None, refused[index]))
        else:
            outcome = next(written)
            outcomes.append(_outcome(outcome.id, outcome.rev, outcome.error))
    return JSONResponse({"results": outcomes})


@router.post(
    "/v1/{collection}/_bulk_delete",
    response_model=BulkOut,
    responses=_errors(422, 503),
    summary="Delete many documents",
)
async def bulk_delete(collection: Collection, request: BulkDeleteIn, db: Database) -> JSONResponse:
    """One outcome per item; missing documents succeed; ``_rev`` makes a delete conditional."""
    return JSONResponse({"results": _outcomes(await db.delete_many(collection, request.ids))})


@router.post(
    "/v1/{collection}/_find",
    response_model=FindOut,
    responses=_errors(422, 503),
    summary="Find documents by field values",
)
async def find(collection: Collection, request: FindIn, db: Database) -> JSONResponse:
    """Documents whose top-level fields match ``where``; ``fields`` projects (``_id`` and
    ``_rev`` always come back); ``limit`` caps the matches."""
    found = await db.find(collection, request.where, request.fields, request.limit)
    if not request.include_secrets:
        found = [strip_secrets(collection, document) for document in found]
    return JSONResponse({"items": found})


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


# -- health ------------------------------------------------------------------------------------
@router.get(
    "/healthz",
    response_model=HealthOut,
    responses={503: {"description": "the backend does not answer", "model": ErrorOut}},
    summary="Ping the backend",
)
async def healthz(db: Database) -> JSONResponse:
    """200 when the backend answers the service's ping, else 503 (details in the log)."""
    try:
        await db.ping()
    except AsyncDBError as exc:
        logger.warning("health check failed: %s: %s", type(exc).__name__, exc)
        body = error_body(503, type(exc).__name__, "the database does not answer")
        return JSONResponse(body, status_code=503, headers={"Retry-After": "1"})
    return JSONResponse({"status": "ok", "provider": db.driver.name})
