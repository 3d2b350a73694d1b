"""Planning bulk calls for the face: every item checked, duplicates refused, before any I/O.

``plan_writes`` and ``plan_deletes`` turn what a caller passed to ``save_many`` /
``delete_many`` into one outcome slot per item (an invalid item fails alone, there) and the
requests that go to the driver. The same id twice in one call is refused as a whole: its
two writes would race inside one batch, and backends answer such batches differently
(CouchDB applies one and reports a conflict or not by row order; DynamoDB refuses the batch).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from asyncdb._documents import PreparedDocument, _shown, validate_document_id, validate_revision
from asyncdb.drivers.base import DeleteRequest, WriteOutcome, WriteRequest
from asyncdb.errors import (
    DocumentTooLargeError,
    InvalidDocumentError,
    InvalidNameError,
    ValidationError,
)

__all__ = ["chunks", "id_list", "plan_deletes", "plan_writes"]

Prepare = Callable[[object, str], PreparedDocument]


def plan_writes(
    docs: Sequence[Any], prepare: Prepare
) -> tuple[list[WriteOutcome], list[tuple[int, WriteRequest]]]:
    """Outcome slots for every document and the writes of the valid ones (with their
    index). Raises ``InvalidDocumentError`` if one id occurs twice."""
    outcomes: list[WriteOutcome] = []
    writes: list[tuple[int, WriteRequest]] = []
    first_index: dict[str, int] = {}
    for index, doc in enumerate(docs):
        outcome = WriteOutcome(_raw_id(doc))
        outcomes.append(outcome)
        try:
            doc_id = validate_document_id(_doc_id(doc))
        except ValidationError as exc:
            outcome.error = exc
            continue
        _refuse_duplicate(first_index, doc_id, index, "save_many", "._id")
        try:
            prepared = prepare(doc, doc_id)
        except (ValidationError, DocumentTooLargeError) as exc:
            outcome.error = exc
            continue
        writes.append((index, WriteRequest(doc_id, prepared.body, prepared.rev)))
    return outcomes, writes


def plan_deletes(
    items: Sequence[Any],
) -> tuple[list[WriteOutcome], list[tuple[int, DeleteRequest]]]:
    """Outcome slots for every item (an id, or a document whose ``_rev`` makes the delete
    conditional) and the valid deletes. Raises ``InvalidDocumentError`` on a repeated id."""
    outcomes: list[WriteOutcome] = []
    deletes: list[tuple[int, DeleteRequest]] = []
    first_index: dict[str, int] = {}
    for index, item in enumerate(id_list(items)):
        outcome = WriteOutcome(_raw_id(item))
        outcomes.append(outcome)
        is_document = isinstance(item, Mapping)
        try:
            doc_id = validate_document_id(_doc_id(item) if is_document else item)
        except ValidationError as exc:
            outcome.error = exc
            continue
        _refuse_duplicate(first_index, doc_id, index, "delete_many", "")
        rev = item.get("_rev") if is_document else None
        try:
            # As in a saved document, "" and None mean "no revision".
            rev = None if rev is None or rev == "" else validate_revision(rev, f"$[{index}]._rev")
        except ValidationError as exc:
            outcome.error = exc
            continue
        deletes.append((index, DeleteRequest(doc_id, rev)))
    return outcomes, deletes


def _refuse_duplicate(
    first_index: dict[str, int], doc_id: str, index: int, call: str, suffix: str
) -> None:
    earlier = first_index.setdefault(doc_id, index)
    if earlier != index:
        raise InvalidDocumentError(
            f"document id {_shown(doc_id)} occurs twice in one {call} call (items {earlier} "
            f"and {index}); send each id once",
            f"$[{index}]{suffix}",
        )


def id_list(ids: object) -> Sequence[Any]:
    """``ids`` if it is a list-like of items, else ``InvalidNameError`` (a lone string or
    mapping is a common mistake that would otherwise be iterated character by character)."""
    if isinstance(ids, str | bytes | Mapping) or not isinstance(ids, Sequence):
        raise InvalidNameError("expected a list of document ids")
    return ids


def _doc_id(doc: object) -> object:
    if isinstance(doc, Mapping):
        return doc.get("_id")
    dumped = getattr(doc, "model_dump", None)
    if callable(dumped):
        return dumped(by_alias=True).get("_id")
    raise InvalidDocumentError(f"a document must be a JSON object, not {type(doc).__name__}")


def _raw_id(item: object) -> str:
    """The id to report an outcome under, even for an invalid item."""
    try:
        raw = item if isinstance(item, str) else _doc_id(item)
    except InvalidDocumentError:
        return ""
    return raw if isinstance(raw, str) else repr(raw)


def chunks(items: list[Any], size: int) -> list[list[Any]]:
    """``items`` cut into lists of at most ``size``."""
    return [items[start : start + size] for start in range(0, len(items), size)]
