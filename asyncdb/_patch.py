"""Partial updates: ``patch``'s operations, checked before any I/O, and applied to a document.

``parse_patch`` reads the face's ``set`` / ``unset`` / ``increment`` (dotted paths);
``merge_patch`` reads an RFC 7396 JSON merge patch (the REST ``PATCH``). Both give one
``Patch``: paths as tuples of keys, values already through the document contract, so a
bad patch is refused before the document is read. ``patch_document`` runs it: atomically
on the backend where the driver can (``Driver.patch``: memory under its lock, SQLite and
PostgreSQL in one transaction), handing it a change that applies the patch and checks the
result as ``save`` would; elsewhere through the face's revision loop (``update``; with a
revision, one conditional write), so concurrent patches of one document lose nothing
either way.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from asyncdb._documents import (
    MAX_DEPTH,
    MAX_DOCUMENT_BYTES,
    MAX_KEY_BYTES,
    MAX_NATIVE_DOCUMENT_BYTES,
    Document,
    _path_of,
    _shown,
    prepare_document,
    validate_revision,
)
from asyncdb._guard import guarded
from asyncdb._query import FieldPath, split_dotted
from asyncdb.drivers.base import Body, Change, Driver, Record
from asyncdb.errors import ConflictError, DocumentTooLargeError, InvalidDocumentError

if TYPE_CHECKING:  # the face imports this module; only its type is needed here
    from asyncdb._service import DatabaseService

__all__ = ["FieldPath", "Patch", "merge_patch", "parse_patch", "patch_document"]

#: What a caller may do with the patched document before it is written (the server's
#: schema models validate it): return the document to write.
Finish = Callable[[Document], Document]

_MISSING: Final = object()


@dataclass(frozen=True, slots=True)
class Patch:
    """Checked operations on distinct paths (none is a prefix of another, except that
    ``maps`` — only from a merge patch — are the parents of the merge's other paths)."""

    sets: tuple[tuple[FieldPath, Any], ...] = ()
    unsets: tuple[FieldPath, ...] = ()
    increments: tuple[tuple[FieldPath, int | float], ...] = ()
    #: Paths that must hold a map (RFC 7396: a patch object replaces a non-object), outer
    #: ones first.
    maps: tuple[FieldPath, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.sets or self.unsets or self.increments or self.maps)

    def apply(self, doc: Document) -> Document:
        """Apply the operations to ``doc`` in place (a private copy: the face's reads are
        fresh) and return it. A path through a value that is not a map, or an increment of
        a value that is not a number, is ``InvalidDocumentError`` (422)."""
        for path in self.maps:
            parent = _parent(doc, path, create=True)
            if not isinstance(parent.get(path[-1]), dict):
                parent[path[-1]] = {}
        for path in self.unsets:
            parent = _parent(doc, path, create=False)
            if parent is not None:
                parent.pop(path[-1], None)
        for path, value in self.sets:
            _parent(doc, path, create=True)[path[-1]] = copy.deepcopy(value)
        for path, amount in self.increments:
            parent = _parent(doc, path, create=True)
            current = parent.get(path[-1], 0)
            if isinstance(current, bool) or not isinstance(current, int | float):
                raise InvalidDocumentError(
                    f"cannot increment a {_kind(current)}: increment adds to numbers only",
                    _path_of(list(path)),
                )
            # int + int stays an int; a float on either side makes a float, as in JSON.
            parent[path[-1]] = current + amount
        return doc


def parse_patch(
    set: Mapping[str, Any] | None = None,
    unset: Sequence[str] | None = None,
    increment: Mapping[str, int | float] | None = None,
) -> Patch:
    """The face's operations as a ``Patch``; ``InvalidDocumentError`` (422) for a bad path
    or value, or for one path named twice (or inside another) across the operations."""
    sets = [(_dotted(name, "set"), value) for name, value in _mapping(set, "set").items()]
    if unset is None:
        unsets: list[FieldPath] = []
    elif isinstance(unset, str | bytes) or not isinstance(unset, Sequence):
        raise InvalidDocumentError("unset takes a list of dotted paths, not a single string")
    else:
        unsets = [_dotted(name, "unset") for name in unset]
    increments = [
        (_dotted(name, "increment"), amount)
        for name, amount in _mapping(increment, "increment").items()
    ]
    _check_distinct([path for path, _ in sets] + unsets + [path for path, _ in increments])
    return Patch(
        sets=tuple((path, _value(path, value)) for path, value in sets),
        unsets=tuple(unsets),
        increments=tuple((path, _amount(path, amount)) for path, amount in increments),
    )


def merge_patch(body: object) -> Patch:
    """An RFC 7396 merge patch as a ``Patch``: a member set to ``null`` is removed, an
    object merges into what is there (replacing a value that is not an object), anything
    else replaces the member. The patch itself must be an object: replacing a whole
    document with a non-object would not leave a document."""
    if not isinstance(body, Mapping):
        raise InvalidDocumentError(
            f"a merge patch of a document must be a JSON object, not {_kind(body)}"
        )
    sets: list[tuple[FieldPath, Any]] = []
    unsets: list[FieldPath] = []
    maps: list[FieldPath] = []

    def walk(node: Mapping[Any, Any], prefix: FieldPath) -> None:
        if len(prefix) >= MAX_DEPTH:
            raise InvalidDocumentError(
                f"the patch nests deeper than {MAX_DEPTH} levels", _path_of(list(prefix))
            )
        for key, value in node.items():
            path = (*prefix, _key(key, prefix))
            if value is None:
                unsets.append(path)
            elif isinstance(value, Mapping):
                maps.append(path)
                walk(value, path)
            else:
                sets.append((path, _value(path, value)))

    walk(body, ())
    return Patch(sets=tuple(sets), unsets=tuple(unsets), maps=tuple(maps))


async def patch_document(
    db: DatabaseService,
    collection: str,
    doc_id: str,
    patch: Patch,
    *,
    rev: str | None = None,
    attempts: int | None = None,
    finish: Finish | None = None,
) -> Document:
    """Apply ``patch`` to the stored document and write it back (``NotFoundError`` when
    there is none). With ``rev``: only over that revision, else ``ConflictError`` (409),
    and never retried. The patched document passes ``finish`` and the contract (with the
    service's size limit) before it is written; if it breaks them, nothing is written.

    Where the driver patches natively (``Driver.patch``) that is one atomic call: no race
    to lose, no retry. Elsewhere: without ``rev``, ``db.update``'s revision loop, which
    retries conflicts (``attempts``); with it, one conditional write. Either way a
    ``WriteOutcomeUnknownError`` comes through as it is: an increment is never sent
    twice on a guess."""
    if rev is not None:
        validate_revision(rev, "rev")
    if attempts is not None and attempts < 1:  # as update() says, native or not
        raise ValueError("attempts must be at least 1")

    def patched(doc: Document) -> Document:
        doc = patch.apply(doc)
        return doc if finish is None else finish(doc)

    if patch:
        record = await _native_patch(db, collection, doc_id, _change(db, doc_id, patched), rev)
        if record is not None:
            return {"_id": record.id, "_rev": record.rev, **record.body}
    if rev is None:
        if not patch:
            return await db.get(collection, doc_id)
        return await db.update(collection, doc_id, patched, attempts=attempts)
    current = await db.get(collection, doc_id)
    if current["_rev"] != rev:
        raise ConflictError(
            f"document {_shown(doc_id)} in {collection!r} is not at revision {_shown(rev)}"
        )
    if not patch:
        return current
    return await db.save(collection, doc_id, {**patched(current), "_rev": rev})


@guarded
async def _native_patch(
    db: DatabaseService, collection: str, doc_id: str, change: Change, rev: str | None
) -> Record | None:
    """The driver's atomic patch, guarded as the face's own calls are (open service, its
    loop, errors shaped); ``None`` when the driver has none."""
    if db.size_limit == "native":
        # Learns the backend's limit (connecting once) now, not inside the driver's lock.
        await db.check_document(doc_id, {})
    return await db.driver.patch(collection, doc_id, change, if_rev=rev)


def _change(db: DatabaseService, doc_id: str, patched: Finish) -> Change:
    """What ``Driver.patch`` runs on the stored body: the patch (and ``finish``), then the
    checks ``save`` makes (the contract, the service's size limit), so that a patched
    document that breaks them raises inside and nothing is written."""
    native = db.size_limit == "native"
    driver = db.driver

    def change(body: Body) -> Body:
        doc = patched({"_id": doc_id, **body})
        new = prepare_document(doc, doc_id, max_bytes=None if native else MAX_DOCUMENT_BYTES)
        if native:
            _check_native_size(driver, doc_id, new.body)
        return new.body

    return change


def _check_native_size(driver: Driver, doc_id: str, body: Body) -> None:
    # DATABASE_SIZE_LIMIT=native, as the face's SizeGuard checks it (its check is async:
    # it may connect to learn the limit, which _native_patch has done already).
    known = driver.limits.native_document_bytes
    limit = MAX_NATIVE_DOCUMENT_BYTES if known is None else known
    size = driver.native_document_size(doc_id, body)
    if size > limit:
        raise DocumentTooLargeError(
            f"document {_shown(doc_id)} measures {size} bytes by the {driver.name} "
            f"backend's measure; its limit is {limit} (DATABASE_SIZE_LIMIT=native)"
        )


def _parent(doc: Document, path: FieldPath, *, create: bool) -> Any:
    """The map that holds ``path``'s last key: intermediate maps are created when
    ``create`` (else ``None`` where one is missing)."""
    node: Any = doc
    for depth, key in enumerate(path[:-1]):
        child = node.get(key, _MISSING)
        if child is _MISSING:
            if not create:
                return None
            child = node[key] = {}
        elif not isinstance(child, dict):
            raise InvalidDocumentError(
                f"the path {_dotted_text(path)} goes through a {_kind(child)}, not a map",
                _path_of(list(path[: depth + 1])),
            )
        node = child
    return node


def _mapping(value: object, operation: str) -> Mapping[Any, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidDocumentError(
            f"{operation} takes a mapping of dotted paths to values, not {_kind(value)}"
        )
    return value


def _dotted(name: object, operation: str) -> FieldPath:
    """``"owner.name"`` as ``("owner", "name")``; ``\\.`` is a literal dot in a key, as
    in ``find`` (``split_dotted``)."""
    if not isinstance(name, str) or not name:
        raise InvalidDocumentError(f"{operation}: a path is a non-empty string, not {_shown(name)}")
    keys = split_dotted(name)
    if "" in keys:
        raise InvalidDocumentError(
            f"{operation}: the path {_shown(name)} has an empty key (a dotted path names "
            "keys between dots)"
        )
    if len(keys) > MAX_DEPTH:
        raise InvalidDocumentError(
            f"{operation}: the path {_shown(name)} is deeper than {MAX_DEPTH} levels"
        )
    path: FieldPath = ()
    for key in keys:
        path = (*path, _key(key, path))
    return path


def _key(key: object, prefix: FieldPath) -> str:
    """One key of a path, by the contract's rules for keys (top-level ``_`` reserved)."""
    where = _path_of(list(prefix))
    if not isinstance(key, str):
        raise InvalidDocumentError(f"key {_shown(key)} is not a string", where)
    try:
        size = len(key.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidDocumentError(f"key {_shown(key)} is not valid unicode", where) from None
    if size > MAX_KEY_BYTES:
        raise InvalidDocumentError(f"key of {size} bytes; the limit is {MAX_KEY_BYTES}", where)
    if not prefix and key[:1] == "_":
        raise InvalidDocumentError(
            f"top-level key {_shown(key)} starts with '_': _id, _rev and other '_' keys are "
            "not fields a patch may change",
            _path_of([key]),
        )
    return key


def _value(path: FieldPath, value: object) -> Any:
    """``value`` through the contract (converted as a save converts it), so a bad one is
    refused before any I/O; its error names the path it was meant for."""
    try:
        return prepare_document({"v": value}, "patch", max_bytes=None).body["v"]
    except InvalidDocumentError as exc:
        reason = str(exc).removesuffix(f" at {exc.path}")
        inner = exc.path.removeprefix("$.v")
        raise InvalidDocumentError(reason, _path_of(list(path)) + inner) from None


def _amount(path: FieldPath, amount: object) -> int | float:
    if isinstance(amount, bool) or not isinstance(amount, int | float):
        raise InvalidDocumentError(
            f"increment: the amount must be a number, not {_kind(amount)}", _path_of(list(path))
        )
    checked: int | float = _value(path, amount)
    return checked


def _check_distinct(paths: list[FieldPath]) -> None:
    """Each path once, and none inside another: the result would depend on the order."""
    seen = set(paths)
    if len(seen) != len(paths):
        twice = next(path for path in paths if paths.count(path) > 1)
        raise InvalidDocumentError(
            f"the path {_dotted_text(twice)} is named more than once in one patch"
        )
    for path in paths:
        for end in range(1, len(path)):
            if path[:end] in seen:
                raise InvalidDocumentError(
                    f"the path {_dotted_text(path)} lies inside {_dotted_text(path[:end])}, "
                    "which the same patch also changes"
                )


def _dotted_text(path: FieldPath) -> str:
    return _shown(".".join(path))


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "list"
    if isinstance(value, Mapping):
        return "map"
    return type(value).__name__
