"""Document ids ⇄ the ``id`` column.

An id is stored as itself, so rows written by another program are found under their own
ids, unless its UTF-8 form passes ``MAX_KEY_BYTES``: a btree entry of PostgreSQL holds at
most 2,704 bytes (a third of a page), and the primary key (collection, id) must fit. Such an
id is stored under ``DIGEST`` + the SHA-256 hex of its UTF-8 bytes, with the id itself in
the ``full_id`` column; a read checks that the stored id is the one asked for. ``DIGEST``
starts with a control character, which no valid id holds, so a digest key never collides
with a natural id (and these keys sort before every natural one).
"""

from __future__ import annotations

from typing import Final

from asyncdb.drivers._digest import key_within

__all__ = ["DIGEST", "MAX_KEY_BYTES", "decode", "encode", "full_id_of"]

#: Room under 2,704 bytes for the collection name (at most 129 bytes) and the tuple header.
MAX_KEY_BYTES: Final = 2000
DIGEST: Final = "\x01sha256:"


def encode(doc_id: str) -> str:
    """The ``id`` column value of ``doc_id``."""
    return key_within(MAX_KEY_BYTES, DIGEST, doc_id)


def full_id_of(doc_id: str, key: str) -> str | None:
    """The ``full_id`` column value: the id itself when its key is a digest, else ``None``."""
    return doc_id if key.startswith(DIGEST) else None


def decode(key: str, full_id: str | None) -> str | None:
    """The caller's id of a stored row, or ``None`` when the row's key and ``full_id`` do
    not belong together (a row another program wrote wrongly)."""
    if not key.startswith(DIGEST):
        return key if full_id is None or full_id == key else None
    if full_id is None or encode(full_id) != key:
        return None
    return full_id
