"""Revisions as entity tags, and the ``If-Match`` / ``If-None-Match`` headers (RFC 9110).

A document's ``_rev`` travels as a strong ``ETag``: ``"<rev>"``. A revision holding a
character an entity tag cannot hold (or starting with ``~``) is sent as ``"~<base64url>"``,
and decoded back when it returns in a condition. Comparison is strong: weak tags
(``W/"..."``) never match a write condition. A tag that names no revision asyncdb could
have issued (a ``~`` tag that is not base64url of UTF-8, or a revision outside the
contract's 1 to 256 printable ASCII characters) is a malformed header: 400.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Final

from asyncdb._documents import MAX_REVISION_LENGTH, validate_revision
from asyncdb.errors import AsyncDBError, InvalidDocumentError

__all__ = ["BadConditionError", "Condition", "etag_of", "parse_condition"]

_PLAIN_REV: Final = re.compile(r"[\x21\x23-\x7d][\x21\x23-\x7e]*")
_TAG: Final = re.compile(r'\s*(W/)?"([\x21\x23-\x7e\x80-\xff]*)"\s*(?:,|$)')
_ENCODED: Final = "~"


class BadConditionError(AsyncDBError):
    """A malformed ``If-Match`` / ``If-None-Match`` header (HTTP 400)."""

    status_code = 400


def etag_of(rev: str) -> str:
    """The strong entity tag of a revision, quotes included."""
    if _PLAIN_REV.fullmatch(rev):
        return f'"{rev}"'
    encoded = base64.urlsafe_b64encode(rev.encode("utf-8")).decode("ascii").rstrip("=")
    return f'"{_ENCODED}{encoded}"'


def _rev_of(tag: str, name: str) -> str:
    rev = tag
    if tag.startswith(_ENCODED):
        encoded = tag[1:]
        try:
            if not re.fullmatch(r"[A-Za-z0-9_-]+", encoded):
                raise ValueError("not base64url")
            padded = encoded + "=" * (-len(encoded) % 4)
            rev = base64.urlsafe_b64decode(padded.encode("ascii")).decode("utf-8")
        except (binascii.Error, UnicodeError, ValueError):
            raise BadConditionError(
                f"{name} holds an entity tag that asyncdb did not issue: a tag starting "
                "with '~' is the base64url form of a revision"
            ) from None
    try:
        return validate_revision(rev)  # the contract's one rule for a revision that is sent
    except InvalidDocumentError:
        raise BadConditionError(
            f"{name} names a malformed revision: a revision is 1 to {MAX_REVISION_LENGTH} "
            "printable ASCII characters"
        ) from None


@dataclass(frozen=True, slots=True)
class Condition:
    """A parsed ``If-Match`` or ``If-None-Match``: ``any`` for ``*``, else the strong
    revisions listed (weak tags are kept apart: they match only in ``If-None-Match``)."""

    any: bool = False
    revs: tuple[str, ...] = ()
    weak_revs: tuple[str, ...] = ()

    def matches(self, rev: str | None, *, weak: bool = False) -> bool:
        """Whether a current revision (``None``: no document) satisfies the list."""
        if rev is None:
            return False
        if self.any:
            return True
        return rev in self.revs or (weak and rev in self.weak_revs)


def parse_condition(header: str | None, name: str) -> Condition | None:
    """Parse one condition header; ``None`` when absent. A bare, unquoted value is taken
    as one revision (a common client shortcut). Malformed lists raise
    ``BadConditionError`` (400)."""
    if header is None:
        return None
    value = header.strip()
    if value == "*":
        return Condition(any=True)
    if '"' not in value:
        if not value or "," in value or any(ch.isspace() for ch in value):
            raise BadConditionError(f"{name} must be '*' or a list of entity tags")
        return Condition(revs=(_rev_of(value, name),))
    revs: list[str] = []
    weak: list[str] = []
    position = 0
    while position < len(value):
        match = _TAG.match(value, position)
        if match is None or match.end() == position:
            raise BadConditionError(f"{name} must be '*' or a list of entity tags")
        (weak if match.group(1) else revs).append(_rev_of(match.group(2), name))
        position = match.end()
    return Condition(revs=tuple(revs), weak_revs=tuple(weak))
