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
"""

from __future__ import annotations

import json
import re
from typing import Any, Final

__all__ = ["MARKER", "SAFE_INTEGER", "decode_body", "dumps", "encode_body", "stored_key"]

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
        copy: Body | None = None
        for key, item in value.items():
            path.append(key)
            encoded = _encode(item, path, marks)
            path.pop()
            if encoded is not item:
                if copy is None:
                    copy = dict(value)
                copy[key] = encoded
        return value if copy is None else copy
    if kind is list:
        new_list: list[Any] | None = None
        for index, item in enumerate(value):
            path.append(index)
            encoded = _encode(item, path, marks)
            path.pop()
            if encoded is not item:
                if new_list is None:
                    new_list = list(value)
                new_list[index] = encoded
        return value if new_list is None else new_list
    return value


def encode_body(body: Body) -> Body:
    """A new top-level dict to send for ``body`` (nested values may be shared with it)."""
    marks = _Marks()
    encoded: Body = {}
    path: Path = []
    for key, value in body.items():
        path.append(key)
        encoded[stored_key(key)] = _encode(value, path, marks)
        path.pop()
    if marks.floats or marks.ints:
        marker: dict[str, list[Path]] = {}
        if marks.floats:
            marker["f"] = marks.floats
        if marks.ints:
            marker["i"] = marks.ints
        encoded[MARKER] = marker
    return encoded


def decode_body(doc: Body) -> Body:
    """The caller's body from a stored CouchDB document (``doc`` is consumed).

    Drops ``_id``, ``_rev`` and every other top-level ``_`` field CouchDB adds
    (``_attachments``, ``_conflicts``, ``_deleted``, ...), undoes key escaping and restores
    the number types listed in the marker.
    """
    marker = doc.pop(MARKER, None)
    body: Body = {}
    for key, value in doc.items():
        if key[:1] == "_":
            continue
        if key[:1] == "~" and _ESCAPED.fullmatch(key):
            key = key[1:]
        body[key] = value
    if isinstance(marker, dict):
        _restore(body, marker.get("f"), _to_float)
        _restore(body, marker.get("i"), _to_int)
    return body


def _to_float(value: Any) -> Any:
    return float(value) if type(value) in (int, float) else value


def _to_int(value: Any) -> Any:
    if type(value) is str:
        try:
            return int(value)
        except ValueError:
            return value
    return value


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
