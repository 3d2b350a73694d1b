"""Document bodies to and from CouchDB JSON, with every number type preserved.

CouchDB itself (Erlang, jiffy) keeps ``1.0`` a float and integers exact, but other
implementations of the protocol parse numbers as IEEE doubles: pouchdb-server gives ``1.0``
back as ``1`` and rounds integers beyond 2**53. So that a body round-trips exactly on any
server, the encoding is made explicit, and only where it is needed:

- a float with an integral value (``1.0``, ``-0.0``, ``1e20``) is stored as the plain JSON
  number, and its path is listed under ``MARKER["f"]``, so it comes back as a float;
- an integer beyond +-(2**53 - 1) is stored as its decimal string and its path is listed
  under ``MARKER["i"]``, so it comes back as the exact int.

``MARKER`` (the top-level key ``"~asyncdb"``) appears only in documents that need it, so
almost every stored document is exactly the caller's JSON, and Mango selectors on plain
numbers keep working. A caller's own top-level key of the form ``~asyncdb``, ``~~asyncdb``,
... is stored with one more ``~`` and unescaped on the way out, so it never collides.
A path is a JSON list of object keys (str) and array indexes (int) from the top level.

The marks apply only to the values they were written for: the marker records the revision
generation of the write (``"g"``, see ``stamp``) and a fingerprint of the marked values
(``"h"``); a document whose ``_rev`` has another generation, or whose marked values no
longer match, is read as the plain JSON it holds. A document stored under a digest key
(``_ids``) keeps the caller's id in the marker as ``"id"``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from typing import Any, Final

__all__ = [
    "MARKER",
    "SAFE_INTEGER",
    "decode_body",
    "dumps",
    "encode_body",
    "generation",
    "misstamped",
    "stamp",
    "stored_id",
    "stored_key",
]

MARKER: Final = "~asyncdb"
#: Integers up to this magnitude survive a trip through an IEEE double.
SAFE_INTEGER: Final = 2**53 - 1
_ESCAPED: Final = re.compile(r"~+asyncdb")

Body = dict[str, Any]
Path = list[str | int]

dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode


def stored_key(key: str) -> str:
    """The top-level key under which the caller's ``key`` is stored."""
    return "~" + key if _ESCAPED.fullmatch(key) else key


class _Marks:
    __slots__ = ("floats", "ints")

    def __init__(self) -> None:
        self.floats: list[Path] = []
        self.ints: list[Path] = []


def _encode(value: Any, path: Path, marks: _Marks) -> Any:
    """``value`` ready for JSON: the same object unless a big int inside needed a string."""
    kind = type(value)
    if kind is float:
        if value.is_integer():
            marks.floats.append(list(path))
        return value
    if kind is int:
        if -SAFE_INTEGER <= value <= SAFE_INTEGER:
            return value
        marks.ints.append(list(path))
        return str(value)
    if kind is dict:
        return _encode_items(value, value.items(), path, marks)
    if kind is list:
        return _encode_items(value, enumerate(value), path, marks)
    return value


def _encode_items(
    container: Any, items: Iterable[tuple[str | int, Any]], path: Path, marks: _Marks
) -> Any:
    """``container`` (a dict or a list) with each item encoded: the same object unless an
    item changed, else a shallow copy holding the changed items."""
    copy: Any = None
    for key, item in items:
        path.append(key)
        encoded = _encode(item, path, marks)
        path.pop()
        if encoded is not item:
            if copy is None:
                copy = container.copy()
            copy[key] = encoded
    return container if copy is None else copy


def encode_body(body: Body, original_id: str | None = None) -> Body:
    """A new top-level dict to send for ``body`` (nested values may be shared with it).

    ``original_id`` is the caller's id of a document stored under a digest key (``_ids``).
    The marker's generation is set by ``stamp`` once the revision to send is known.
    """
    marks = _Marks()
    encoded: Body = {}
    path: Path = []
    for key, value in body.items():
        path.append(key)
        encoded[stored_key(key)] = _encode(value, path, marks)
        path.pop()
    marker: dict[str, Any] = {}
    if marks.floats or marks.ints:
        if marks.floats:
            marker["f"] = marks.floats
        if marks.ints:
            marker["i"] = marks.ints
        marker["h"] = _fingerprint(body, marks.floats, marks.ints)
    if original_id is not None:
        marker["id"] = original_id
    if marker:
        encoded[MARKER] = marker
    return encoded


def stamp(payload: Body, rev: str | None, after: int = 0) -> None:
    """Make ``payload`` a write on top of ``rev`` (``None``: a new document, or one made
    again over a tombstone of generation ``after``): its ``_rev``, and the revision
    generation the number marks will be valid for."""
    if rev is None:
        payload.pop("_rev", None)
    else:
        payload["_rev"] = rev
    marker = payload.get(MARKER)
    if isinstance(marker, dict) and "h" in marker:
        marker["g"] = (after if rev is None else generation(rev)) + 1


def misstamped(payload: Body, rev: str) -> bool:
    """Whether ``payload``, stored as ``rev``, carries marks for another generation (it
    was made over a tombstone the driver did not know of)."""
    marker = payload.get(MARKER)
    return isinstance(marker, dict) and "g" in marker and marker["g"] != generation(rev)


def generation(rev: object) -> int:
    """The ``N`` of a revision ``N-hash``; 0 for anything else."""
    if isinstance(rev, str):
        number, _, _ = rev.partition("-")
        if number.isdigit():
            return int(number)
    return 0


def stored_id(doc: Body) -> str | None:
    """The caller's id kept in a document stored under a digest key."""
    marker = doc.get(MARKER)
    value = marker.get("id") if isinstance(marker, dict) else None
    return value if isinstance(value, str) else None


def decode_body(doc: Body, *, projected: bool = False) -> Body:
    """The caller's body from a stored CouchDB document (``doc`` is consumed).

    Drops ``_id``, ``_rev`` and every other top-level ``_`` field CouchDB adds
    (``_attachments``, ``_conflicts``, ``_deleted``, ...), undoes key escaping and restores
    the number types listed in the marker, if the marker still describes these values.
    A ``projected`` document holds only some fields: its marks are checked by generation
    alone, since the fingerprint covers fields that are not there.
    """
    marker = doc.pop(MARKER, None)
    rev = doc.get("_rev")
    body: Body = {}
    for key, value in doc.items():
        if key[:1] == "_":
            continue
        if key[:1] == "~" and _ESCAPED.fullmatch(key):
            key = key[1:]
        body[key] = value
    if not isinstance(marker, dict):
        return body
    floats, ints = marker.get("f"), marker.get("i")
    if "g" not in marker and "h" not in marker:
        # Written before markers carried a generation: only the big-integer strings are
        # restored (no other program is likely to put such a string at such a path);
        # floats are left as stored, since an int another program wrote there looks alike.
        _restore(body, ints, _to_big_int)
        return body
    # Another program that updates the document keeping the marker (``{**doc, ...}``)
    # makes a new revision: the marks then describe values that may be gone, and are
    # ignored. The fingerprint also catches edits that kept the generation (a conflicting
    # branch, a write with new_edits=false).
    if marker.get("g") != generation(rev) or not _valid_paths(floats, ints):
        return body
    if not projected and marker.get("h") != _fingerprint(body, floats, ints):
        return body
    _restore(body, floats, _to_float)
    _restore(body, ints, _to_int)
    return body


def _valid_paths(*groups: Any) -> bool:
    return all(
        group is None or (isinstance(group, list) and all(isinstance(p, list) and p for p in group))
        for group in groups
    )


def _fingerprint(body: Body, floats: Any, ints: Any) -> str | None:
    """A short hash of the marked values as stored, normalised so that a server that
    parses numbers as doubles (``1.0`` back as ``1``) gives the same answer; ``None`` if a
    path does not resolve to a value of the marked kind."""
    parts: list[str] = []
    for path in floats or ():
        value = _at(body, path)
        if type(value) not in (int, float):
            return None
        parts.append(repr(float(value) + 0.0))  # -0.0 may come back as 0
    parts.append("|")
    for path in ints or ():
        value = _at(body, path)
        if type(value) is int:  # the caller's value, stored as its decimal string
            value = str(value)
        if type(value) is not str:
            return None
        parts.append(value)
    return hashlib.sha256(dumps(parts).encode()).hexdigest()[:16]


def _at(body: Body, path: list[Any]) -> Any:
    container: Any = body
    try:
        for step in path:
            in_dict = isinstance(container, dict) and isinstance(step, str)
            if not (in_dict or (isinstance(container, list) and type(step) is int)):
                return None
            container = container[step]
    except (KeyError, IndexError):
        return None
    return container


def _to_float(value: Any) -> Any:
    return float(value) if type(value) in (int, float) else value


def _to_int(value: Any) -> Any:
    if type(value) is str:
        try:
            return int(value)
        except ValueError:
            return value
    return value


def _to_big_int(value: Any) -> Any:
    converted = _to_int(value)
    return converted if type(converted) is int and abs(converted) > SAFE_INTEGER else value


def _restore(body: Body, paths: Any, convert: Any) -> None:
    """Apply ``convert`` at each path; paths that do not resolve are ignored, so a body
    edited by another CouchDB client never makes a read fail."""
    if not isinstance(paths, list):
        return
    for path in paths:
        if not isinstance(path, list) or not path:
            continue
        container: Any = body
        try:
            for step in path[:-1]:
                container = container[step]
            last = path[-1]
            container[last] = convert(container[last])
        except (KeyError, IndexError, TypeError):
            continue
