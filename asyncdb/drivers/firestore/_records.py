"""Stored Firestore documents to ``Record`` objects, and asyncdb writes to ``Write``
protobufs: the id mapping (``_ids``) and the body encoding (``_codec``) in one place."""

from __future__ import annotations

from typing import Any

from asyncdb.drivers.base import Body, Record
from asyncdb.drivers.firestore import _ids
from asyncdb.drivers.firestore._codec import (
    decode_document,
    encode_document,
    format_revision,
    parse_revision,
)
from asyncdb.errors import ConflictError

__all__ = ["addressable", "fill_document", "fill_write", "record_of"]


def record_of(document: Any) -> Record | None:
    """The record of a stored document (``None``: a digest key without its id)."""
    doc_id = _ids.caller_id(document.name.rpartition("/")[2], document.fields)
    if doc_id is None:
        return None
    return Record(doc_id, format_revision(document.update_time), decode_document(document.fields))


def addressable(document: Any) -> Record | None:
    """The record of a stored document if a caller's id names it (not so: another
    program's id that begins with the escape sequence ``~~`` but is no escaped id)."""
    record = record_of(document)
    if record is None or _ids.stored_id(record.id) != document.name.rpartition("/")[2]:
        return None
    return record


def fill_document(document: Any, key: str, doc_id: str, body: Body) -> None:
    """Encode ``body`` into ``document.fields``; a digest key also keeps the caller's id."""
    encode_document(body, document.fields)
    if _ids.is_digest(key):
        document.fields[_ids.ORIGINAL_ID_FIELD].string_value = doc_id


def fill_write(
    write: Any,
    documents_path: str,
    collection: str,
    doc_id: str,
    body: Body,
    if_rev: str | None,
    if_absent: bool,
) -> None:
    """A full replace of ``doc_id`` in ``collection``, with its precondition."""
    document = write.update
    key = _ids.stored_id(doc_id)
    document.name = f"{documents_path}/{collection}/{key}"
    fill_document(document, key, doc_id, body)
    if if_absent:
        write.current_document.exists = False
    elif if_rev is not None:
        stamp = parse_revision(if_rev)
        if stamp is None:  # not a revision this driver issued: it cannot be current
            raise ConflictError(f"stale revision for document {doc_id!r} in {collection!r}")
        write.current_document.update_time.CopyFrom(stamp)
