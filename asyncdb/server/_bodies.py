"""The JSON bodies of the document API: requests refuse unknown keys (a misspelt
``"wher"`` is a 422, never an unfiltered answer) and ids that are not valid Unicode
(a lone surrogate cannot be echoed in a UTF-8 answer: 422 before any I/O)."""

from __future__ import annotations

from typing import Annotated, Any, Final, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

__all__ = [
    "MAX_BULK_ITEMS",
    "BulkDeleteIn",
    "BulkGetIn",
    "BulkGetOut",
    "BulkOut",
    "BulkSaveIn",
    "DeleteOut",
    "ErrorOut",
    "FindIn",
    "FindOut",
    "HealthOut",
    "JsonObject",
    "Outcome",
    "PageOut",
    "error_responses",
]

MAX_BULK_ITEMS: Final = 1000
JsonObject = dict[str, Any]
_STRICT = ConfigDict(extra="forbid")
T = TypeVar("T")


def _check_unicode(value: object, where: str) -> None:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            # The value itself is left out: it cannot be encoded in the answer either.
            raise ValueError(f"{where} is not valid Unicode (it holds a lone surrogate)") from None


def _unicode_ids(items: list[T]) -> list[T]:
    """Every id and ``_rev`` a bulk body names: a bare id, or a document's (or a delete
    object's) ``_id`` and ``_rev``."""
    for item in items:
        if isinstance(item, dict):
            _check_unicode(item.get("_id"), "an _id")
            _check_unicode(item.get("_rev"), "a _rev")
        else:
            _check_unicode(item, "an id")
    return items


#: The list a bulk call carries: at most ``MAX_BULK_ITEMS`` items, every id valid Unicode.
BulkItems = Annotated[list[T], Field(max_length=MAX_BULK_ITEMS), AfterValidator(_unicode_ids)]


class PageOut(BaseModel):
    """One page of documents and the cursor of the next (null at the end)."""

    items: list[JsonObject]
    next_cursor: str | None = None


class BulkGetIn(BaseModel):
    """Ids to read."""

    model_config = _STRICT

    ids: BulkItems[str]


class BulkGetOut(BaseModel):
    """``{id: document or null}`` in the order asked (duplicates collapse)."""

    documents: dict[str, JsonObject | None]


class BulkSaveIn(BaseModel):
    """Documents to save; each carries ``_id`` (generated when the collection's schema
    model has an ``id_factory``), and ``_rev`` makes its write conditional."""

    model_config = _STRICT

    documents: BulkItems[JsonObject]


class BulkDeleteIn(BaseModel):
    """Ids, or ``{"_id": ..., "_rev": ...}`` objects for conditional deletes."""

    model_config = _STRICT

    ids: BulkItems[str | JsonObject]


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
    """A portable query (docs/contract.md, "Queries"): ``where`` maps field paths to a
    value or to operators (``$eq $ne $in $gt $gte $lt $lte $exists``); ``order_by`` lists
    field paths, ``-`` first for descending. With ``limit`` or ``cursor`` the answer is one
    page (``limit`` defaults to 100 then, at most 1000) and ``next_cursor`` resumes it;
    without either, every match comes back."""

    model_config = _STRICT

    where: JsonObject = Field(default_factory=dict)
    fields: list[str] | None = None
    order_by: list[str] | None = Field(default=None, examples=[["-created"]])
    limit: int | None = Field(default=None, ge=1, le=1000)
    cursor: str | None = Field(default=None, description="next_cursor of the previous page")
    strict: bool = Field(default=False, description="422 instead of a filtered scan")
    include_secrets: bool = False


class FindOut(BaseModel):
    """The matching documents, in ``order_by`` order (by ``_id`` for a page without one),
    and the cursor of the next page (``null``: no document follows)."""

    items: list[JsonObject]
    next_cursor: str | None = None


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


_MEANINGS: Final = {
    304: "not modified",
    400: "malformed cursor or condition header",
    404: "document not found",
    409: "conflict: a stale _rev in the body, or a taken id",
    412: "precondition failed: If-Match / If-None-Match did not hold",
    413: "request body or document too large",
    415: "the body is not sent as Content-Type: application/json",
    422: "invalid name, id, document, query or request body",
    503: "backend unavailable, or it refused the server's credentials",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for these error statuses, with the JSON error model."""
    return {
        code: {"description": _MEANINGS[code], **({} if code == 304 else {"model": ErrorOut})}
        for code in codes
    }
