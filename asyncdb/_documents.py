"""The document contract: what every backend can hold, checked once, before any I/O.

The rules are what CouchDB 3.x, DynamoDB and Firestore can all hold, natively or through
their driver's documented encoding of ids and keys (docs/contract.md derives each one).
``prepare_document`` walks a document once: it validates, converts the common non-JSON
values that have one obvious JSON form, measures the size and returns a fresh copy, so
the caller's object is never shared with what gets stored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

# The walk and the limits it applies live in asyncdb._walk; they are re-exported here,
# where the rest of the package has always imported them from.
from asyncdb._walk import FLOAT_MAX_MAGNITUDE as FLOAT_MAX_MAGNITUDE
from asyncdb._walk import FLOAT_MIN_MAGNITUDE as FLOAT_MIN_MAGNITUDE
from asyncdb._walk import INT_MAX as INT_MAX
from asyncdb._walk import INT_MIN as INT_MIN
from asyncdb._walk import MAX_DEPTH as MAX_DEPTH
from asyncdb._walk import MAX_FIELDS as MAX_FIELDS
from asyncdb._walk import MAX_KEY_BYTES as MAX_KEY_BYTES
from asyncdb._walk import _is_model, _Refusal, _utf8_length, _Walker
from asyncdb._walk import _path_of as _path_of
from asyncdb._walk import _shown as _shown
from asyncdb.errors import DocumentTooLargeError, InvalidDocumentError, InvalidNameError

__all__ = [
    "MAX_COLLECTION_NAME_LENGTH",
    "MAX_DEPTH",
    "MAX_DOCUMENT_BYTES",
    "MAX_FIELDS",
    "MAX_ID_BYTES",
    "MAX_KEY_BYTES",
    "MAX_NATIVE_DOCUMENT_BYTES",
    "MAX_PREFIX_LENGTH",
    "MAX_REVISION_LENGTH",
    "SIZE_LIMITS",
    "Document",
    "PreparedDocument",
    "prepare_document",
    "validate_collection_name",
    "validate_document_id",
    "validate_prefix",
    "validate_revision",
]

Document = dict[str, Any]

#: Collection names: lower-case ASCII, digits, ``_`` and ``-``, starting with a letter.
#: CouchDB database names allow no upper case; DynamoDB table names need 3 characters.
COLLECTION_NAME_PATTERN: Final = re.compile(r"[a-z][a-z0-9_-]*")
MIN_COLLECTION_NAME_LENGTH: Final = 3
MAX_COLLECTION_NAME_LENGTH: Final = 64
MAX_PREFIX_LENGTH: Final = 64
#: Ids are portable by encoding: each driver escapes what its backend cannot hold as a key
#: and stores ids beyond its key limit (Firestore 1,500 bytes, DynamoDB 2,048) under a
#: documented digest key. 4,096 bytes holds the long URL keys real applications use.
MAX_ID_BYTES: Final = 4096
#: DynamoDB's 400 KB item limit, minus head-room for the driver's revision attribute.
MAX_DOCUMENT_BYTES: Final = 400_000
#: ``DATABASE_SIZE_LIMIT``: the portable measure and limit above on every backend, or each
#: backend's own (``DriverLimits.native_document_bytes``, by ``Driver.native_document_size``).
SIZE_LIMITS: Final = ("portable", "native")
#: Under ``native``, the cap for a backend without a limit of its own (memory): a document
#: is copied whole on every read and write, and 16 MiB keeps that bounded.
MAX_NATIVE_DOCUMENT_BYTES: Final = 16 * 1024 * 1024

#: Revisions are opaque, but one that is sent goes into URLs, headers and conditions: a
#: bounded printable-ASCII token (every driver's own revisions fit) keeps a forged one from
#: turning into a 431, a reset connection or endless retries.
MAX_REVISION_LENGTH: Final = 256

_RESERVED_KEYS: Final = frozenset({"_id", "_rev"})
_CONTROL_CHARACTERS: Final = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_REVISION: Final = re.compile(rf"[\x21-\x7e]{{1,{MAX_REVISION_LENGTH}}}")


def validate_collection_name(name: object) -> str:
    """Return ``name`` if it is a portable collection name, else raise ``InvalidNameError``."""
    if not isinstance(name, str):
        raise InvalidNameError(f"collection name must be a string, not {type(name).__name__}")
    if not (
        MIN_COLLECTION_NAME_LENGTH <= len(name) <= MAX_COLLECTION_NAME_LENGTH
        and COLLECTION_NAME_PATTERN.fullmatch(name)
    ):
        raise InvalidNameError(
            f"invalid collection name {_shown(name)}: use {MIN_COLLECTION_NAME_LENGTH} to "
            f"{MAX_COLLECTION_NAME_LENGTH} characters a-z, 0-9, '_' or '-', starting with a letter"
        )
    return name


def validate_prefix(prefix: object) -> str:
    """Return ``prefix`` if it can start every collection name (empty is allowed)."""
    if not isinstance(prefix, str):
        raise InvalidNameError(f"collection prefix must be a string, not {type(prefix).__name__}")
    if prefix and not (
        len(prefix) <= MAX_PREFIX_LENGTH and COLLECTION_NAME_PATTERN.fullmatch(prefix)
    ):
        raise InvalidNameError(
            f"invalid collection prefix {_shown(prefix)}: use up to {MAX_PREFIX_LENGTH} "
            "characters a-z, 0-9, '_' or '-', starting with a letter"
        )
    return prefix


def validate_document_id(doc_id: object) -> str:
    """Return ``doc_id`` if it is a portable id, else raise ``InvalidNameError``.

    Any valid-unicode string of 1 to 4,096 UTF-8 bytes without control characters; ``/``,
    a leading ``_``, ``.`` and ``..`` included: each driver encodes what its backend cannot
    hold as a key (docs/contract.md). Non-strings are refused, never converted.
    """
    if not isinstance(doc_id, str):
        raise InvalidNameError(f"document id must be a string, not {type(doc_id).__name__}")
    if not doc_id:
        raise InvalidNameError("document id must not be empty")
    size = _utf8_length(doc_id)
    if size is None:
        raise InvalidNameError(f"document id {_shown(doc_id)} is not valid unicode")
    if size > MAX_ID_BYTES:
        raise InvalidNameError(f"document id is {size} bytes long; the limit is {MAX_ID_BYTES}")
    if _CONTROL_CHARACTERS.search(doc_id):
        raise InvalidNameError(f"document id {_shown(doc_id)} must not contain control characters")
    return doc_id


def validate_revision(rev: object, path: str = "$._rev") -> str:
    """Return ``rev`` if it has the shape of a revision, else raise ``InvalidDocumentError``.

    A revision that is sent (a document's ``_rev``, ``delete(rev=)``, ``If-Match``) is 1 to
    256 printable ASCII characters (``\\x21``-``\\x7e``); its meaning is the backend's.
    """
    if not isinstance(rev, str):
        raise InvalidDocumentError(
            f"malformed revision: a revision is a string, not {type(rev).__name__}", path
        )
    if not _REVISION.fullmatch(rev):
        raise InvalidDocumentError(
            f"malformed revision {_shown(rev)}: use 1 to {MAX_REVISION_LENGTH} printable "
            "ASCII characters without spaces",
            path,
        )
    return rev


class PreparedDocument:
    """A validated, converted copy of a document, ready for a driver.

    ``body`` holds the fields without ``_id`` and ``_rev``; ``rev`` is the ``_rev`` the caller
    sent (``None`` if it sent none, ``""`` or ``None``); ``size`` is the contract's portable measure
    in bytes.
    """

    __slots__ = ("body", "rev", "size")

    def __init__(self, body: Document, rev: str | None, size: int) -> None:
        self.body = body
        self.rev = rev
        self.size = size


def prepare_document(
    doc: object, doc_id: str, *, max_bytes: int | None = MAX_DOCUMENT_BYTES
) -> PreparedDocument:
    """Validate and copy ``doc`` for storage under ``doc_id`` (already validated).

    Raises ``InvalidDocumentError`` naming the JSON path of the first bad value and
    ``DocumentTooLargeError`` when the portable measure exceeds ``max_bytes`` (``None``:
    the caller checks the size itself, as the face does with ``DATABASE_SIZE_LIMIT=native``).
    """
    if type(doc) is not dict:  # the common case skips both checks below
        if _is_model(doc):
            doc = doc.model_dump(mode="json", by_alias=True)
        if not isinstance(doc, Mapping):
            raise InvalidDocumentError(
                f"a document must be a JSON object (dict), not {type(doc).__name__}"
            )
    rev: str | None = None
    fields: Mapping[Any, Any] = doc  # the walk copies it: nothing here is kept
    if "_id" in doc or "_rev" in doc:
        fields = {key: value for key, value in doc.items() if key not in _RESERVED_KEYS}
        if "_id" in doc and doc["_id"] != doc_id:
            raise InvalidDocumentError(
                f"_id {_shown(doc['_id'])} does not match the document id {_shown(doc_id)}",
                "$._id",
            )
        # "" and None both mean "no revision": the original service wrote both.
        sent_rev = doc.get("_rev")
        if sent_rev is not None and sent_rev != "":
            rev = validate_revision(sent_rev)
    if _may_have_underscore_key(fields):
        for key in fields:
            if type(key) is str and key[:1] == "_":
                raise InvalidDocumentError(
                    f"top-level key {_shown(key)} starts with '_'; only _id and _rev may",
                    _path_of([key]),
                )
    walker = _Walker()
    try:
        body: Document = walker.map(fields, 0)
    except _Refusal as refusal:
        raise InvalidDocumentError(refusal.reason, _path_of(refusal.path)) from None
    # The id counts like a top-level string field: drivers that store an escaped or
    # digested id keep the original in the document too, and it must still fit.
    id_bytes = len(doc_id) if doc_id.isascii() else _utf8_length_or_zero(doc_id)
    size = walker.size + len("_id") + 2 + id_bytes + 1
    if max_bytes is not None and size > max_bytes:
        raise DocumentTooLargeError(
            f"document {_shown(doc_id)} measures {size} bytes; the limit is {max_bytes}"
        )
    return PreparedDocument(body, rev, size)


def _may_have_underscore_key(fields: Mapping[Any, Any]) -> bool:
    """Whether a key of ``fields`` may start with ``_``: one C-level scan of the joined
    keys instead of a Python loop; a false alarm (a key holding ``"\\x00_"``, a key that
    is not a string) only costs the exact loop."""
    try:
        keys = "\x00".join(fields)
    except TypeError:
        return True
    return keys[:1] == "_" or "\x00_" in keys


def _utf8_length_or_zero(text: str) -> int:
    return _utf8_length(text) or 0
