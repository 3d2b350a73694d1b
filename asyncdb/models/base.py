"""``DocumentModel``: the pydantic base of every typed document, and its field types.

A model maps one stored document: ``id`` is the document's ``_id`` and ``rev`` its
``_rev`` (both aliases, so ``model_validate`` takes a stored document as it is and
``to_document`` gives one back). Unknown fields are kept (``extra="allow"``): a model never
drops data that an older or newer writer stored. Timestamps are timezone-aware
``datetime`` objects in Python and ISO 8601 strings in UTC in storage.

Generated ids are opt-in per model (``id_factory = uuid4_id`` or ``sortable_id``); the
creation and update timestamps a model names (``created_field`` / ``updated_field``) are
kept and refreshed by every write through ``TypedCollection`` or ``asyncdb serve``.
"""

from __future__ import annotations

import datetime as _dt
import os
import threading
import time
import uuid
from collections.abc import Callable
from typing import Annotated, Any, ClassVar, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PrivateAttr,
    SecretStr,
    field_validator,
    model_validator,
)

from asyncdb._documents import Document, validate_document_id
from asyncdb.errors import InvalidNameError

__all__ = ["DocumentModel", "StoredSecret", "UtcDateTime", "sortable_id", "utc_now", "uuid4_id"]


def utc_now() -> _dt.datetime:
    """The current time, timezone-aware, in UTC."""
    return _dt.datetime.now(_dt.UTC)


def uuid4_id() -> str:
    """A random id: a UUID version 4 in its canonical 36-character form."""
    return str(uuid.uuid4())


_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def sortable_id() -> str:
    """A 26-character id that sorts by creation time (to the millisecond), then at random.

    The layout of a ULID: 48 bits of milliseconds since 1970 and 80 random bits, in
    Crockford's base 32, so that string order is time order across processes. Within one
    process the ids are strictly increasing: a second id in the same millisecond (or
    after the clock stepped back) is the previous one plus one, as ULID's monotonic mode.
    """
    global _last_sortable
    with _sortable_lock:
        now = time.time_ns() // 1_000_000 << 80 | int.from_bytes(os.urandom(10), "big")
        value = now if now >> 80 > _last_sortable >> 80 else _last_sortable + 1
        _last_sortable = value
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


_sortable_lock = threading.Lock()
_last_sortable = 0


def _as_utc(value: _dt.datetime) -> _dt.datetime:
    # Stored timestamps are UTC; a naive one (as older writers produced with utcnow())
    # is read as UTC rather than refused.
    if value.tzinfo is None:
        return value.replace(tzinfo=_dt.UTC)
    return value.astimezone(_dt.UTC)


def _iso(value: _dt.datetime) -> str:
    return value.isoformat()


#: A timezone-aware ``datetime`` in UTC; stored as an ISO 8601 string (``+00:00``).
#: Naive input is taken to be UTC; other offsets are converted.
UtcDateTime = Annotated[
    _dt.datetime,
    AfterValidator(_as_utc),
    PlainSerializer(_iso, return_type=str, when_used="json"),
]


def _reveal(value: SecretStr) -> str:
    return value.get_secret_value()


#: A secret string: masked in ``repr``, ``str`` and Python-mode dumps, so that logging a
#: model never shows it; written in clear by JSON-mode dumps, which is the storage form.
StoredSecret = Annotated[SecretStr, PlainSerializer(_reveal, return_type=str, when_used="json")]


class DocumentModel(BaseModel):
    """Base of typed documents: ``id`` ↔ ``_id``, ``rev`` ↔ ``_rev``, extra fields kept.

    Subclasses set ``collection_name`` (the default collection of a ``TypedCollection``)
    and may set:

    - ``secret_fields``: top-level fields that listings leave out unless asked
      (``include_secrets=True``); a write that omits them keeps the stored ones;
    - ``id_factory``: a function giving a fresh id when none is given (``uuid4_id``,
      ``sortable_id``); without one an id is required;
    - ``created_field`` / ``updated_field``: the names of the creation and update
      timestamps: a write that omits the first keeps the stored one, and every write
      sets the second to now.
    """

    model_config = ConfigDict(populate_by_name=True, extra="allow")

    collection_name: ClassVar[str | None] = None
    secret_fields: ClassVar[frozenset[str]] = frozenset()
    id_factory: ClassVar[Callable[[], str] | None] = None
    created_field: ClassVar[str | None] = None
    updated_field: ClassVar[str | None] = None

    id: str = Field(alias="_id", description="the document id")
    rev: str | None = Field(
        default=None,
        alias="_rev",
        description="the revision read; a write with it is conditional on it being current",
    )

    _secrets_withheld: bool = PrivateAttr(default=False)

    @model_validator(mode="before")
    @classmethod
    def _generate_id(cls, data: Any) -> Any:
        if (
            cls.id_factory is not None
            and isinstance(data, dict)
            and data.get("_id") is None
            and data.get("id") is None
        ):
            return {**data, "_id": cls.id_factory()}
        return data

    @field_validator("id")
    @classmethod
    def _check_id(cls, value: str) -> str:
        try:
            return validate_document_id(value)
        except InvalidNameError as exc:
            raise ValueError(str(exc)) from None

    @classmethod
    def kept_fields(cls) -> frozenset[str]:
        """Top-level fields that a write omitting them keeps from the stored document:
        the secret fields and the creation timestamp."""
        created = frozenset() if cls.created_field is None else frozenset({cls.created_field})
        return cls.secret_fields | created

    def touch(self) -> None:
        """Set the update timestamp (``updated_field``) to now, before a write."""
        if self.updated_field is not None:
            setattr(self, self.updated_field, utc_now())

    @property
    def secrets_withheld(self) -> bool:
        """True if this instance came from a listing that left the secret fields out."""
        return self._secrets_withheld

    def to_document(self, *, include_rev: bool = True) -> Document:
        """The storage form: plain JSON with ``_id`` (and ``_rev`` if known and wanted)."""
        document: Document = self.model_dump(mode="json", by_alias=True)
        if not include_rev or document.get("_rev") is None:
            document.pop("_rev", None)
        return document

    @classmethod
    def from_document(cls, document: Document, *, include_secrets: bool = True) -> Self:
        """Validate a stored document; without ``include_secrets`` the secret fields are
        dropped first and the instance remembers it (saving it back is refused)."""
        if include_secrets or not cls.secret_fields:
            return cls.model_validate(document)
        trimmed = {key: value for key, value in document.items() if key not in cls.secret_fields}
        model = cls.model_validate(trimmed)
        model._secrets_withheld = True
        return model
