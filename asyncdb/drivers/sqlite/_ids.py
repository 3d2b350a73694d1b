"""Caller ids to SQLite keys and back: the identity (docs/providers/sqlite.md, "Ids").

A document's id is the ``id TEXT PRIMARY KEY`` column as it is: SQLite holds any valid
unicode string of any length the contract allows, so no id needs an escape or a digest,
and a document another program stored is found under its own id.

Order: ``TEXT`` compares with the ``BINARY`` collation (``memcmp`` of the stored UTF-8),
and UTF-8 byte order is code point order, which is how Python compares ``str``. So the
scan's ``ORDER BY id`` and its ``id > ?`` resume agree with each other and with Python's
``sorted`` on the ids.
"""

from __future__ import annotations

__all__ = ["decode", "encode"]


def encode(doc_id: str) -> str:
    """The key that stores ``doc_id``: the id itself."""
    return doc_id


def decode(key: str) -> str:
    """The caller's id for a stored key: the key itself."""
    return key
