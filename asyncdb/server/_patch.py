"""``PATCH /v1/{collection}/{id}``: a JSON merge patch (RFC 7396) of one document.

The body is sent as ``application/merge-patch+json`` (anything else is 415, with
``Accept-Patch``): members set to ``null`` are removed, objects merge recursively into
what is stored (replacing a value that is not an object), anything else replaces the
member. The patch must be an object (a whole document cannot become a non-object), and
may not name top-level ``_`` keys: the revision condition is ``If-Match``. It becomes the
face's set/unset operations (``asyncdb._patch``), checked before the document is read.

Without ``If-Match`` the patch goes through the face's revision loop (concurrent patches
lose nothing); ``If-Match`` makes it conditional: 412 when the named revision is not the
current one, or when there is no document. In a collection of the schema set the patched
document is validated by its model before it is written.
"""

from __future__ import annotations

import json
from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from asyncdb._documents import Document
from asyncdb._patch import Finish, Patch, merge_patch, patch_document
from asyncdb._service import DatabaseService
from asyncdb.errors import AsyncDBError, ConflictError, NotFoundError
from asyncdb.fastapi import Database, PreconditionFailedError, error_body
from asyncdb.server._bodies import ErrorOut
from asyncdb.server._bodies import error_responses as _errors
from asyncdb.server._conditions import Condition, etag_of, parse_condition
from asyncdb.server._deps import CollectionName as Collection
from asyncdb.server._deps import SchemaSet
from asyncdb.server._routes import DOCUMENT_PATH, DocId, IfMatch
from asyncdb.server._validation import Schemas, validate_document

__all__ = ["MERGE_PATCH", "BadPatchBodyError", "router"]

#: RFC 7396's media type: the only one ``PATCH`` takes.
MERGE_PATCH: Final = "application/merge-patch+json"

router = APIRouter()

_REQUEST_BODY: Final = {
    "required": True,
    "description": "a JSON merge patch (RFC 7396): null removes a member, objects merge",
    "content": {MERGE_PATCH: {"schema": {"type": "object", "additionalProperties": True}}},
}
_UNSUPPORTED: Final[dict[int | str, dict[str, Any]]] = {
    415: {"description": f"the body is not sent as Content-Type: {MERGE_PATCH}", "model": ErrorOut}
}


class BadPatchBodyError(AsyncDBError):
    """A ``PATCH`` body that is not JSON at all (HTTP 400): nothing to validate."""

    status_code = 400


@router.patch(
    DOCUMENT_PATH,
    response_model=dict[str, Any],
    responses=_errors(400, 404, 409, 412, 413, 422, 503) | _UNSUPPORTED,
    summary="Change part of a document (JSON merge patch; conditional with If-Match)",
    openapi_extra={"requestBody": _REQUEST_BODY},
)
async def patch_document_route(
    collection: Collection,
    doc_id: DocId,
    request: Request,
    db: Database,
    schemas: SchemaSet,
    if_match: IfMatch = None,
) -> JSONResponse:
    """Apply the merge patch to the stored document and return it, with its new ``_rev``
    and ETag. 404 when there is no document (412 under ``If-Match``); 412 when ``If-Match``
    names another revision."""
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != MERGE_PATCH:
        body = error_body(
            415,
            "UnsupportedMediaType",
            f"PATCH takes a JSON merge patch, sent with Content-Type: {MERGE_PATCH}",
        )
        return JSONResponse(body, status_code=415, headers={"Accept-Patch": MERGE_PATCH})
    match = parse_condition(if_match, "If-Match")
    patch = merge_patch(_json(await request.body()))
    finish = _model_check(schemas, collection, doc_id)
    if match is None:
        stored = await patch_document(db, collection, doc_id, patch, finish=finish)
    else:
        stored = await _conditional(db, collection, doc_id, patch, match, finish)
    return JSONResponse(stored, headers={"ETag": etag_of(stored["_rev"])})


async def _conditional(
    db: DatabaseService,
    collection: str,
    doc_id: str,
    patch: Patch,
    match: Condition,
    finish: Finish | None,
) -> Document:
    if match.any:  # any current revision: the revision loop, as without a condition
        try:
            return await patch_document(db, collection, doc_id, patch, finish=finish)
        except NotFoundError:
            raise _failed(collection, doc_id) from None
    try:
        if len(match.revs) == 1:
            rev = match.revs[0]
        else:  # several tags (or only weak ones, which never match a write): ask which holds
            rev = (await db.get(collection, doc_id))["_rev"]
            if not match.matches(rev):
                raise _failed(collection, doc_id)
        return await patch_document(db, collection, doc_id, patch, rev=rev, finish=finish)
    except (ConflictError, NotFoundError):
        raise _failed(collection, doc_id) from None


def _json(raw: bytes) -> object:
    try:
        return json.loads(raw, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        # A parse failure's message quotes nothing of the body (it may hold secrets).
        raise BadPatchBodyError(f"the body is not a JSON document ({MERGE_PATCH})") from None


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def _model_check(schemas: Schemas, collection: str, doc_id: str) -> Finish | None:
    if collection not in schemas:
        return None

    def check(doc: Document) -> Document:
        return validate_document(schemas, collection, doc_id, doc)

    return check


def _failed(collection: str, doc_id: str) -> PreconditionFailedError:
    return PreconditionFailedError(
        f"If-Match did not hold for document {doc_id!r} in collection {collection!r}"
    )
