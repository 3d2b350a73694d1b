"""Digest keys: where a driver stores a document whose id its backend's key cannot hold.

DynamoDB (a 2,048-byte hash key), PostgreSQL (a btree entry of about 2,700 bytes) and
CouchDB (an id that must fit in a request line) each keep an id under itself while it
fits, and otherwise under a prefix and the SHA-256 hex digest of its UTF-8 bytes, with the
id itself kept beside the document, so a read can check that the stored id is the one it
asked for. Each driver's ``_ids`` module has its prefix and its rule for "fits".
"""

from __future__ import annotations

import hashlib

__all__ = ["digest_key", "key_within"]


def digest_key(prefix: str, doc_id: str) -> str:
    """``prefix`` + the SHA-256 hex digest of ``doc_id``'s UTF-8 bytes (64 characters)."""
    return prefix + hashlib.sha256(doc_id.encode("utf-8")).hexdigest()


def key_within(max_bytes: int, prefix: str, doc_id: str) -> str:
    """``doc_id`` itself while its UTF-8 form has at most ``max_bytes``, else its digest key."""
    if len(doc_id) * 4 <= max_bytes or len(doc_id.encode("utf-8")) <= max_bytes:
        return doc_id
    return digest_key(prefix, doc_id)
