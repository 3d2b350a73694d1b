"""The document contract: what every backend can hold, checked once, before any I/O.

The rules are what CouchDB 3.x, DynamoDB and Firestore can all hold, natively or through
their driver's documented encoding of ids and keys (docs/contract.md derives each one).
``prepare_document`` walks a document once: it validates, converts the common non-JSON
values that have one obvious JSON form, measures the size and returns a fresh copy, so
the caller's object is never shared with what gets stored.
"""

from __future__ import annotations

import datetime as _dt
import enum
import math
import re
import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Final

from pydantic import BaseModel

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
#: Firestore's field-name limit.
MAX_KEY_BYTES: Final = 1500
#: DynamoDB holds 32 levels; the Firestore driver encodes what is deeper than its 20.
MAX_DEPTH: Final = 32
#: Firestore's limit on the number of fields (map entries at any depth) in one document.
MAX_FIELDS: Final = 20_000
#: DynamoDB's 400 KB item limit, minus head-room for the driver's revision attribute.
MAX_DOCUMENT_BYTES: Final = 400_000
#: ``DATABASE_SIZE_LIMIT``: the portable measure and limit above on every backend, or each
#: backend's own (``DriverLimits.native_document_bytes``, by ``Driver.native_document_size``).
SIZE_LIMITS: Final = ("portable", "native")
#: Under ``native``, the cap for a backend without a limit of its own (memory): a document
#: is copied whole on every read and write, and 16 MiB keeps that bounded.
MAX_NATIVE_DOCUMENT_BYTES: Final = 16 * 1024 * 1024
INT_MIN: Final = -(2**63)
INT_MAX: Final = 2**63 - 1
#: DynamoDB numbers: magnitude from 1E-130 up to (but not including) 1E+126.
FLOAT_MIN_MAGNITUDE: Final = 1e-130
FLOAT_MAX_MAGNITUDE: Final = 1e126

# Size accounting: an upper bound of both DynamoDB's and Firestore's measure of an item.
_NUMBER_BYTES: Final = 12
_SCALAR_BYTES: Final = 1
_CONTAINER_BYTES: Final = 3

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
    if isinstance(doc, BaseModel):
        doc = doc.model_dump(mode="json", by_alias=True)
    if not isinstance(doc, Mapping):
        raise InvalidDocumentError(
            f"a document must be a JSON object (dict), not {type(doc).__name__}"
        )
    rev: str | None = None
    fields = {key: value for key, value in doc.items() if key not in _RESERVED_KEYS}
    if "_id" in doc and doc["_id"] != doc_id:
        raise InvalidDocumentError(
            f"_id {_shown(doc['_id'])} does not match the document id {_shown(doc_id)}", "$._id"
        )
    # "" and None both mean "no revision": the original service wrote both.
    sent_rev = doc.get("_rev")
    if sent_rev is not None and sent_rev != "":
        rev = validate_revision(sent_rev)
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
    size = walker.size + len("_id") + 2 + _utf8_length_or_zero(doc_id) + 1
    if max_bytes is not None and size > max_bytes:
        raise DocumentTooLargeError(
            f"document {_shown(doc_id)} measures {size} bytes; the limit is {max_bytes}"
        )
    return PreparedDocument(body, rev, size)


_PLAIN_KEY: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class _Refusal(Exception):
    """Internal: a bad value; ``path`` is filled in (innermost first) while unwinding, so
    that the hot path never builds path strings."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.path: list[str | int] = []


def _path_of(parts: list[str | int]) -> str:
    """JSON path text of ``parts`` (outermost first): ``$.a.b[2]['odd key']``."""
    text = "$"
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _PLAIN_KEY.fullmatch(part):
            text += f".{part}"
        else:
            text += f"[{part!r}]"
    return text


class _Walker:
    """One pass over a document: validate, convert, copy and measure.

    Written for speed: common scalar types are handled inline by exact type; anything
    unusual goes through ``_convert``. Paths are only built when something is refused.
    """

    __slots__ = ("fields", "size")

    def __init__(self) -> None:
        self.size = 0
        self.fields = 0

    def map(self, value: Mapping[Any, Any], depth: int) -> Document:
        if depth > MAX_DEPTH:
            raise _Refusal(f"nested deeper than {MAX_DEPTH} levels")
        self.fields += len(value)
        if self.fields > MAX_FIELDS:
            raise _Refusal(f"more than {MAX_FIELDS} fields")
        size = _CONTAINER_BYTES
        copy: Document = {}
        for key, item in value.items():
            kind = type(item)
            try:
                if type(key) is not str or not key.isascii():
                    size += _check_unusual_key(key)
                elif len(key) > MAX_KEY_BYTES:
                    raise _Refusal(f"key of {len(key)} bytes; the limit is {MAX_KEY_BYTES}")
                else:
                    size += len(key) + 2
                if kind is str:
                    if item.isascii():
                        size += len(item) + 1
                        copy[key] = item
                        continue
                    copy[key] = self.string(item)
                elif kind is int:
                    if not INT_MIN <= item <= INT_MAX:
                        raise _Refusal("integer outside the signed 64-bit range")
                    size += _NUMBER_BYTES
                    copy[key] = item
                elif kind is bool or item is None:
                    size += _SCALAR_BYTES
                    copy[key] = item
                elif kind is float:
                    size += _NUMBER_BYTES
                    copy[key] = _checked_float(item)
                elif kind is dict:
                    copy[key] = self.map(item, depth + 1)
                elif kind is list:
                    copy[key] = self.list(item, depth + 1)
                else:
                    copy[key] = self.convert(item, depth + 1)
            except _Refusal as refusal:
                refusal.path.insert(0, key if isinstance(key, str) else repr(key))
                raise
        self.size += size
        return copy

    def list(self, value: list[Any] | tuple[Any, ...], depth: int) -> list[Any]:
        if depth > MAX_DEPTH:
            raise _Refusal(f"nested deeper than {MAX_DEPTH} levels")
        size = _CONTAINER_BYTES + len(value)
        copy: list[Any] = []
        append = copy.append
        for index, item in enumerate(value):
            kind = type(item)
            try:
                if kind is str:
                    if item.isascii():
                        size += len(item) + 1
                        append(item)
                        continue
                    append(self.string(item))
                elif kind is int:
                    if not INT_MIN <= item <= INT_MAX:
                        raise _Refusal("integer outside the signed 64-bit range")
                    size += _NUMBER_BYTES
                    append(item)
                elif kind is bool or item is None:
                    size += _SCALAR_BYTES
                    append(item)
                elif kind is float:
                    size += _NUMBER_BYTES
                    append(_checked_float(item))
                elif kind is dict:
                    append(self.map(item, depth + 1))
                elif kind is list:
                    append(self.list(item, depth + 1))
                else:
                    append(self.convert(item, depth + 1))
            except _Refusal as refusal:
                refusal.path.insert(0, index)
                raise
        self.size += size
        return copy

    def string(self, value: str) -> str:
        length = _utf8_length(value)
        if length is None:
            raise _Refusal("string is not valid unicode (unpaired surrogate)")
        self.size += length + 1
        return value

    def convert(self, value: object, depth: int) -> Any:
        """Values with one obvious JSON form; anything else is refused. ``depth`` is the
        depth ``value`` itself would have as a container."""
        if isinstance(value, enum.Enum):
            return self.convert(value.value, depth)
        if isinstance(value, bool):
            self.size += _SCALAR_BYTES
            return bool(value)
        if value is None:
            self.size += _SCALAR_BYTES
            return None
        if isinstance(value, int):
            if not INT_MIN <= value <= INT_MAX:
                raise _Refusal("integer outside the signed 64-bit range")
            self.size += _NUMBER_BYTES
            return int(value)
        if isinstance(value, float):
            self.size += _NUMBER_BYTES
            return _checked_float(float(value))
        if isinstance(value, str):
            return self.string(str(value))
        if isinstance(value, _dt.datetime):
            if value.tzinfo is not None:
                value = value.astimezone(_dt.UTC)
            return self.string(value.isoformat())
        if isinstance(value, _dt.date | _dt.time):
            return self.string(value.isoformat())
        if isinstance(value, uuid.UUID):
            return self.string(str(value))
        if isinstance(value, Decimal):
            return self.decimal(value)
        if isinstance(value, BaseModel):
            return self.convert(value.model_dump(mode="json", by_alias=True), depth)
        if isinstance(value, Mapping):
            return self.map(value, depth)
        if isinstance(value, list | tuple):
            return self.list(value, depth)
        raise _Refusal(f"{type(value).__name__} is not a JSON value")

    def decimal(self, value: Decimal) -> int | float:
        if not value.is_finite():
            raise _Refusal(f"Decimal {value} is not a JSON number")
        self.size += _NUMBER_BYTES
        if not value:
            return 0
        # Check the magnitude first: int() of Decimal("1E+1000000") takes minutes, and a
        # tiny value would silently become 0.0.
        if value.adjusted() > 125 or value.adjusted() < -130:
            raise _Refusal(f"Decimal {value} is outside the portable number range")
        if value == value.to_integral_value():
            number = int(value)
            if not INT_MIN <= number <= INT_MAX:
                raise _Refusal("integer outside the signed 64-bit range")
            return number
        return _checked_float(float(value))


def _check_unusual_key(key: object) -> int:
    """Checks for keys off the fast path (non-ASCII or odd types); returns the key's
    share of the size measure."""
    if not isinstance(key, str):
        raise _Refusal(f"key {key!r} is not a string")
    length = _utf8_length(key)
    if length is None:
        raise _Refusal(f"key {_shown(key)} is not valid unicode")
    if length > MAX_KEY_BYTES:
        raise _Refusal(f"key of {length} bytes; the limit is {MAX_KEY_BYTES}")
    return length + 2


def _checked_float(value: float) -> float:
    if not math.isfinite(value):
        raise _Refusal(f"{value!r} is not a JSON number")
    magnitude = abs(value)
    if not magnitude:
        return 0.0  # -0.0 too: CouchDB and DynamoDB do not keep the sign of zero
    if not FLOAT_MIN_MAGNITUDE <= magnitude < FLOAT_MAX_MAGNITUDE:
        raise _Refusal(f"{value!r} is outside the portable range 1e-130 <= |x| < 1e126")
    return value


def _utf8_length(text: str) -> int | None:
    """UTF-8 length of ``text``, or ``None`` if it holds an unpaired surrogate."""
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError:
        return None


def _utf8_length_or_zero(text: str) -> int:
    return _utf8_length(text) or 0


def _shown(value: object, limit: int = 60) -> str:
    """A bounded, printable rendering of a user value for an error message."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
