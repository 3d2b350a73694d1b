"""Documents ⇄ rows: the body is stored as the compact JSON text of what the face handed
over, so key order and exact types (``1.0`` stays a float, ``True`` a boolean) come back
as written; the revision is a column of its own.

Revisions are ``<generation>-<16 hex digits>``: the generation counts the writes of the
document (computed by the statement itself, ``CAST(rev AS INTEGER) + 1``), the random
part makes every revision unique, so a revision from before a delete never matches a
re-created document.

A row another program wrote may not be a document asyncdb can return (a body that is not
a JSON object, an id or a revision outside the contract). ``record`` answers ``None`` with
the reason for such a row, so that one bad row never breaks a read of the others.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from asyncdb._documents import validate_document_id, validate_revision
from asyncdb.drivers.base import Record
from asyncdb.drivers.sqlite import _ids
from asyncdb.errors import InvalidDocumentError, InvalidNameError

__all__ = ["FIRST_GENERATION", "dumps", "record", "token"]

dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode

FIRST_GENERATION = "1-"

#: The columns the face owns; a body another program stored with them keeps them out.
_RESERVED = ("_id", "_rev")


def token() -> str:
    """The random part of a new revision."""
    return secrets.token_hex(8)


def record(
    key: object, rev: object, text: object, *, asked: str | None = None
) -> tuple[Record | None, str]:
    """The record of one stored row, or ``None`` and why it cannot be returned. ``asked``:
    the (valid) id the row was looked up by, so its id needs no check."""
    if asked is not None:
        doc_id = asked
    elif not isinstance(key, str):
        return None, "its id is not text"
    else:
        doc_id = _ids.decode(key)
        try:
            validate_document_id(doc_id)
        except InvalidNameError:
            return None, "its id is not a valid document id"
    try:
        validate_revision(rev)
    except InvalidDocumentError:
        return None, "its revision is not a valid revision"
    if not isinstance(text, str):
        return None, "its body is not text"
    try:
        body: Any = json.loads(text)
    except (ValueError, RecursionError):
        return None, "its body is not JSON"
    if not isinstance(body, dict):
        return None, "its body is not a JSON object"
    for name in _RESERVED:
        body.pop(name, None)
    assert isinstance(rev, str)  # validate_revision passed
    return Record(doc_id, rev, body), ""
