"""Document ids to DynamoDB hash keys and back.

DynamoDB holds any non-empty UTF-8 string of up to 2,048 bytes in a hash key, so every
such id is its own key: an item another program stored is found under its own id. An id
of 2,049 to 4,096 bytes (the contract allows them) is stored under a digest key:
``DIGEST_PREFIX`` + the SHA-256 hex digest of the id's UTF-8 bytes (72 bytes), with the
id itself in the attribute ``_asyncdb_id``; a read checks that attribute against the
requested id. The prefix starts with a control character, which no document id may
contain, so no id is ever mistaken for a digest key and no id needs escaping. For the
same reason every other key that starts with it is asyncdb's own (``RESERVED_PREFIX``: the
index registry, ``_registry``): no caller's id reaches it, and listings skip it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from asyncdb.drivers._digest import key_within
from asyncdb.drivers.dynamodb._codec import ID_ATTRIBUTE, ORIGINAL_ID_ATTRIBUTE

__all__ = [
    "DIGEST_PREFIX",
    "MAX_KEY_BYTES",
    "RESERVED_PREFIX",
    "caller_id",
    "is_digest_key",
    "item_matches",
    "storage_key",
]

#: DynamoDB's limit on a string partition key.
MAX_KEY_BYTES: Final = 2048
#: Keys asyncdb keeps for itself start with a control character, which no id may hold.
RESERVED_PREFIX: Final = "\x01"
DIGEST_PREFIX: Final = RESERVED_PREFIX + "sha256:"


def storage_key(doc_id: str) -> str:
    """The hash key that stores the document ``doc_id``."""
    return key_within(MAX_KEY_BYTES, DIGEST_PREFIX, doc_id)


def is_digest_key(key: str) -> bool:
    return key.startswith(DIGEST_PREFIX)


def caller_id(item: Mapping[str, Any]) -> str | None:
    """The caller's id of a stored item (``None``: a digest-keyed item whose original id
    is missing or broken, or another of asyncdb's own items, which no id can reach)."""
    key = item[ID_ATTRIBUTE].get("S")
    if not isinstance(key, str):
        return None
    if not key.startswith(RESERVED_PREFIX):
        return key
    if not is_digest_key(key):
        return None
    original = item.get(ORIGINAL_ID_ATTRIBUTE, {}).get("S")
    if isinstance(original, str) and storage_key(original) == key:
        return original
    return None


def item_matches(item: Mapping[str, Any], doc_id: str) -> bool:
    """Whether an item read under ``storage_key(doc_id)`` really is ``doc_id``'s."""
    return caller_id(item) == doc_id
