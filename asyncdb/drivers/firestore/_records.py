"""Stored Firestore documents to ``Record`` objects, and asyncdb writes to ``Write``
protobufs: the id mapping (``_ids``), the body encoding (``_codec``) and the index keys
(``_indexes``) in one place."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any, Final

from asyncdb.drivers._bytekeys import encode_key
from asyncdb.drivers._keyplan import KeyLayout
from asyncdb.drivers.base import Body, Record
from asyncdb.drivers.firestore import _ids
from asyncdb.drivers.firestore._codec import (
    KEPT_BODY_FIELD,
    KEPT_REV_FIELD,
    KEY_FIELD_PREFIX,
    decode_document,
    encode_document,
    format_revision,
    parse_revision,
)
from asyncdb.errors import ConflictError

__all__ = [
    "KEY_BUDGET",
    "addressable",
    "body_digest",
    "fill_document",
    "fill_write",
    "key_field",
    "record_of",
    "revision_of",
]

#: The most bytes of an index key. Firestore orders a bytes value by its first 1,500
#: bytes only and refuses a query value longer than 1,500 bytes; a range's bounds may be
#: a byte or two longer than a key, so keys stay a little below that.
KEY_BUDGET: Final = 1480

_dumps = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), sort_keys=True, allow_nan=False
).encode


def key_field(layout: KeyLayout) -> str:
    """The top-level field holding a document's key under ``layout`` (a simple name)."""
    return KEY_FIELD_PREFIX + layout.digest


def body_digest(body: Body) -> str:
    """A digest of a body's content (key order does not matter)."""
    return hashlib.sha256(_dumps(body).encode("utf-8")).hexdigest()


def revision_of(document: Any, body: Body) -> str:
    """The revision of a stored document: its ``update_time``, unless asyncdb only added
    index keys since its last write (then the revision it had before, which the body
    digest kept with it proves: any other change of the body shows)."""
    fields = document.fields
    kept = fields.get(KEPT_REV_FIELD)
    if kept is not None and kept.WhichOneof("value_type") == "string_value":
        digest = fields.get(KEPT_BODY_FIELD)
        if digest is not None and digest.string_value == body_digest(body):
            return str(kept.string_value)
    return format_revision(document.update_time)


def record_of(document: Any) -> Record | None:
    """The record of a stored document (``None``: a digest key without its id)."""
    doc_id = _ids.caller_id(document.name.rpartition("/")[2], document.fields)
    if doc_id is None:
        return None
    body = decode_document(document.fields)
    return Record(doc_id, revision_of(document, body), body)


def addressable(document: Any) -> Record | None:
    """The record of a stored document if a caller's id names it (not so: another
    program's id that begins with the escape sequence ``~~`` but is no escaped id)."""
    record = record_of(document)
    if record is None or _ids.stored_id(record.id) != document.name.rpartition("/")[2]:
        return None
    return record


def fill_document(
    document: Any, key: str, doc_id: str, body: Body, layouts: Sequence[KeyLayout] = ()
) -> None:
    """Encode ``body`` into ``document.fields``; a digest key also keeps the caller's id,
    and every index of ``layouts`` gets the document's key."""
    fields = document.fields
    encode_document(body, fields)
    if _ids.is_digest(key):
        fields[_ids.ORIGINAL_ID_FIELD].string_value = doc_id
    for layout in layouts:
        fields[key_field(layout)].bytes_value = encode_key(layout, doc_id, body, budget=KEY_BUDGET)


def fill_write(
    write: Any,
    documents_path: str,
    collection: str,
    doc_id: str,
    body: Body,
    if_rev: str | None,
    if_absent: bool,
    layouts: Sequence[KeyLayout] = (),
) -> None:
    """A full replace of ``doc_id`` in ``collection``, with its precondition."""
    document = write.update
    key = _ids.stored_id(doc_id)
    document.name = f"{documents_path}/{collection}/{key}"
    fill_document(document, key, doc_id, body, layouts)
    if if_absent:
        write.current_document.exists = False
    elif if_rev is not None:
        stamp = parse_revision(if_rev)
        if stamp is None:  # not a revision this driver issued: it cannot be current
            raise ConflictError(f"stale revision for document {doc_id!r} in {collection!r}")
        write.current_document.update_time.CopyFrom(stamp)
