"""Opaque pagination cursors: where a page ended, bound to the collection it came from.

A cursor is URL-safe base64 of a small JSON object. It carries no secret and needs none:
it only names the id after which the next page starts, so a client that forges one can
only ask for a page it could have asked for anyway. Anything that does not decode to a
cursor for this collection is refused with ``InvalidCursorError`` (400), never a crash.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Final

from asyncdb._documents import validate_document_id
from asyncdb.errors import InvalidCursorError, InvalidNameError

__all__ = ["decode_cursor", "encode_cursor"]

_VERSION: Final = 1
#: The worst case still fits: an id of 4,096 bytes that JSON escapes entirely (``"`` or
#: ``\\`` become two bytes each: 8,192), the collection name and the envelope, in base64
#: (4/3): about 11,060 characters. The cap bounds what a forged cursor makes us decode.
_MAX_CURSOR_LENGTH: Final = 12_000


def encode_cursor(collection: str, last_id: str) -> str:
    """A cursor that resumes ``collection`` after ``last_id``."""
    payload = json.dumps(
        {"v": _VERSION, "c": collection, "k": last_id}, separators=(",", ":"), ensure_ascii=False
    )
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def decode_cursor(collection: str, cursor: object) -> str:
    """The id a cursor resumes after; ``InvalidCursorError`` if it is not one of ours."""
    if not isinstance(cursor, str) or not cursor or len(cursor) > _MAX_CURSOR_LENGTH:
        raise InvalidCursorError("invalid cursor: not a cursor issued by asyncdb")
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (UnicodeError, binascii.Error, ValueError, RecursionError) as exc:
        raise InvalidCursorError("invalid cursor: not a cursor issued by asyncdb") from exc
    if not isinstance(payload, dict) or payload.get("v") != _VERSION:
        raise InvalidCursorError("invalid cursor: not a cursor issued by asyncdb")
    if payload.get("c") != collection:
        raise InvalidCursorError("invalid cursor: it was issued for another collection")
    try:
        return validate_document_id(payload.get("k"))
    except InvalidNameError as exc:
        raise InvalidCursorError("invalid cursor: it does not name a position") from exc
