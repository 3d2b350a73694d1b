"""The REST document API: ``/v1/{collection}/{id}``, pages and health (bulk calls and
``_find`` are in ``asyncdb.server._bulk``).

Every route awaits the application's ``DatabaseService``; errors become JSON through
``asyncdb.fastapi``'s handlers. A revision travels as the ``ETag``; ``If-Match`` makes a
write or delete conditional and ``If-None-Match: *`` a create (412 when they fail, per
RFC 9110 section 13.1). A ``_rev`` inside a body keeps the face's meaning: a stale one is
a 409 conflict. An id is the rest of the path, percent-decoded: ``a%2Fb`` is ``a/b``.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Body, Header, Path, Query
from fastapi.responses import JSONResponse, Response

from asyncdb._documents import MAX_ID_BYTES, Document
from asyncdb._service import MAX_PAGE_SIZE, DatabaseService
from asyncdb.errors import AsyncDBError, AuthenticationError, ConflictError, NotFoundError
from asyncdb.fastapi import Database, PreconditionFailedError, error_body, public_message
from asyncdb.server._bodies import DeleteOut, ErrorOut, HealthOut, JsonObject, PageOut
from asyncdb.server._bodies import error_responses as _errors
from asyncdb.server._conditions import BadConditionError, Condition, etag_of, parse_condition
from asyncdb.server._deps import CollectionName as Collection
from asyncdb.server._deps import SchemaSet
from asyncdb.server._validation import prepare_document, strip_secrets

__all__ = ["DOCUMENT_PATH", "router"]

logger = logging.getLogger("asyncdb")

#: The id is a ``path`` parameter: it may hold ``/`` (sent as ``%2F`` or as is).
DOCUMENT_PATH = "/v1/{collection}/{doc_id:path}"

router = APIRouter()

DocId = Annotated[
    str,
    Path(
        description=f"document id: 1 to {MAX_ID_BYTES:,} UTF-8 bytes of valid Unicode without "
        "control characters ('/' and a leading '_' allowed), percent-encoded"
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
    Query(description="include the schema model's secret fields in listing results"),
]


def _created() -> dict[int | str, dict[str, Any]]:
    return {201: {"description": "created (If-None-Match: *)"}}


# -- single documents --------------------------------------------------------------------------
@router.get(
    DOCUMENT_PATH,
    response_model=JsonObject,
    responses=_errors(304, 400, 404, 422, 503),
    summary="Read a document (its revision is the ETag)",
)
async def get_document(
    collection: Collection, doc_id: DocId, db: Database, if_none_match: IfNoneMatch = None
) -> Response:
    """The document with ``_id`` and ``_rev``. ``If-None-Match`` with its ETag: 304."""
    return await _read(db, collection, doc_id, if_none_match)


@router.head(
    DOCUMENT_PATH,
    responses=_errors(304, 400, 404, 422, 503),
    summary="The headers a GET of the document would answer (ETag, Content-Length)",
)
async def head_document(
    collection: Collection, doc_id: DocId, db: Database, if_none_match: IfNoneMatch = None
) -> Response:
    """As GET, without the body (RFC 9110 section 9.3.2): a cheap existence and ETag check."""
    response = await _read(db, collection, doc_id, if_none_match)
    return Response(status_code=response.status_code, headers=dict(response.headers))


async def _read(
    db: DatabaseService, collection: str, doc_id: str, if_none_match: str | None
) -> Response:
    condition = parse_condition(if_none_match, "If-None-Match")
    document = await db.get(collection, doc_id)
    etag = etag_of(document["_rev"])
    if condition is not None and condition.matches(document["_rev"], weak=True):
        return Response(status_code=304, headers={"ETag": etag})
    return JSONResponse(document, headers={"ETag": etag})


@router.put(
    DOCUMENT_PATH,
    response_model=JsonObject,
    status_code=200,
    responses=_created() | _errors(400, 409, 412, 413, 415, 422, 503),
    summary="Write a document (conditional with If-Match / If-None-Match)",
)
async def put_document(
    collection: Collection,
    doc_id: DocId,
    body: Annotated[JsonObject, Body(description="the document (a JSON object)")],
    db: Database,
    schemas: SchemaSet,
    if_match: IfMatch = None,
    if_none_match: IfNoneMatch = None,
) -> JSONResponse:
    """Upsert the document and return it as stored, with its new ``_rev`` and ETag.

    ``If-Match: "<rev>"`` writes only over that revision, ``If-Match: *`` only over an
    existing document, ``If-None-Match: *`` only where none exists (201); a condition that
    does not hold is 412. Without conditions a ``_rev`` in the body still makes the write
    conditional (409 when stale). In a collection of the schema set the document is
    validated by its model; the model's kept fields that the body omits keep their
    stored values.
    """
    match = parse_condition(if_match, "If-Match")
    none_match = parse_condition(if_none_match, "If-None-Match")
    document = await prepare_document(db, schemas, collection, doc_id, body)
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
    DOCUMENT_PATH,
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
    schemas: SchemaSet,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 100,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
    include_secrets: IncludeSecrets = False,
) -> JSONResponse:
    """At most ``limit`` documents and ``next_cursor`` (null exactly when none follow)."""
    page = await db.list_page(collection, limit, cursor)
    items = (
        page.items
        if include_secrets
        else [strip_secrets(schemas, collection, d) for d in page.items]
    )
    return JSONResponse({"items": items, "next_cursor": page.next_cursor})


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
        message = (
            public_message(exc)
            if isinstance(exc, AuthenticationError)
            else "the database does not answer"
        )
        body = error_body(503, type(exc).__name__, message)
        return JSONResponse(body, status_code=503, headers={"Retry-After": "1"})
    return JSONResponse({"status": "ok", "provider": db.driver.name})
