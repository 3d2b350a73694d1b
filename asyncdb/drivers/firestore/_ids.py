"""Caller ids to Firestore document ids and back.

Firestore refuses a document id that contains ``/`` (worse: a name with more segments
addresses a document in a sub-collection), is ``.`` or ``..``, matches ``__.*__``, or is
longer than 1,500 UTF-8 bytes. The contract allows all of these (up to 4,096 bytes), so:

* an id Firestore holds natively is stored **as itself**, so documents another program
  wrote are found under their own ids;
* any other id, and every id that begins with the escape sequence ``~~``, is stored as
  ``~~e~`` followed by the id with ``%`` and ``/`` percent-encoded (``%25``, ``%2F``);
  the prefix alone makes ``.``, ``..`` and ``__x__`` valid;
* if that is still over 1,500 bytes, the document is stored under the digest key
  ``~~h~`` + the SHA-256 hex of the id's UTF-8 bytes, and holds the caller's id in the
  top-level field ``_asyncdb_id``; a read checks that field against the requested id.

No native id begins with ``~~``, an escaped one never holds ``/``, and the two forms differ
in their fourth character, so the mapping is reversible.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any, Final

__all__ = [
    "ESCAPE",
    "MAX_KEY_BYTES",
    "ORIGINAL_ID_FIELD",
    "caller_id",
    "is_digest",
    "stored_id",
]

#: Ids beginning with this are never stored as themselves.
ESCAPE: Final = "~~"
_ESCAPED: Final = "~~e~"
_DIGEST: Final = "~~h~"
#: Firestore's limit on a document id (and on a field name), in UTF-8 bytes.
MAX_KEY_BYTES: Final = 1500
#: The top-level field holding the caller's id of a document stored under a digest key.
ORIGINAL_ID_FIELD: Final = "_asyncdb_id"
_RESERVED: Final = re.compile(r"__.*__", re.DOTALL)
_PERCENT: Final = re.compile(r"%(25|2F)")


def _unquote(match: re.Match[str]) -> str:
    return "%" if match.group(1) == "25" else "/"


def _native(doc_id: str) -> bool:
    return (
        not doc_id.startswith(ESCAPE)
        and "/" not in doc_id
        and doc_id not in (".", "..")
        and not _RESERVED.fullmatch(doc_id)
        and len(doc_id.encode("utf-8")) <= MAX_KEY_BYTES
    )


def stored_id(doc_id: str) -> str:
    """The Firestore document id that holds the caller's ``doc_id``."""
    if _native(doc_id):
        return doc_id
    escaped = _ESCAPED + doc_id.replace("%", "%25").replace("/", "%2F")
    if len(escaped.encode("utf-8")) <= MAX_KEY_BYTES:
        return escaped
    return _DIGEST + hashlib.sha256(doc_id.encode("utf-8")).hexdigest()


def is_digest(key: str) -> bool:
    """Whether a stored id is a digest key (the caller's id is in ``_asyncdb_id``)."""
    return key.startswith(_DIGEST)


def caller_id(key: str, fields: Mapping[str, Any]) -> str | None:
    """The caller's id of a stored document from its Firestore id and raw fields.

    ``None`` for a digest key whose document lacks a readable original id (not ours).
    Another program's id that begins with ``~~`` but has neither form reads as itself.
    """
    if key.startswith(_ESCAPED):
        return _PERCENT.sub(_unquote, key[len(_ESCAPED) :])
    if key.startswith(_DIGEST):
        original = fields.get(ORIGINAL_ID_FIELD)
        if original is None or original.WhichOneof("value_type") != "string_value":
            return None
        text: str = original.string_value
        return text
    return key
