"""The export format: NDJSON, one document a line, gzip-compressed when the name ends in
``.gz``.

A line is ``{"collection": "agents", "id": "a-1", "doc": {...}}``; ``doc`` holds the
fields without ``_id`` and ``_rev`` (revisions belong to the backend that issued them).
Files are written to a temporary name and renamed when complete, so a file that exists
is never half-written.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from asyncdb._documents import (
    prepare_document,
    validate_collection_name,
    validate_document_id,
)
from asyncdb.errors import DocumentTooLargeError, InvalidExportError, ValidationError

__all__ = ["ExportRecord", "ExportWriter", "read_records"]

_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode


@dataclass(slots=True)
class ExportRecord:
    """One document of an export file, validated against the contract."""

    collection: str
    id: str
    doc: dict[str, Any]
    line: int


def _open_text(path: Path, mode: str, *, compressed: bool | None = None) -> IO[str]:
    if path.name.endswith(".gz") if compressed is None else compressed:
        text: IO[str] = gzip.open(  # type: ignore[assignment]  # noqa: SIM115 - caller closes
            path, mode + "t", encoding="utf-8", newline="\n"
        )
        return text
    return path.open(mode, encoding="utf-8", newline="\n")


class ExportWriter:
    """Writes records to ``path`` through a temporary file, renamed on success only."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._partial = path.with_name(f".{path.name}.partial")
        self._file: IO[str] | None = None
        self.count = 0

    def __enter__(self) -> ExportWriter:
        self._file = _open_text(self._partial, "w", compressed=self.path.name.endswith(".gz"))
        return self

    def write(self, collection: str, doc: dict[str, Any]) -> None:
        assert self._file is not None, "use ExportWriter as a context manager"
        body = {k: v for k, v in doc.items() if k not in ("_id", "_rev")}
        self._file.write(_encode({"collection": collection, "id": doc["_id"], "doc": body}))
        self._file.write("\n")
        self.count += 1

    def __exit__(self, exc_type: object, *rest: object) -> None:
        assert self._file is not None
        self._file.close()
        if exc_type is None:
            os.replace(self._partial, self.path)
        else:
            with contextlib.suppress(FileNotFoundError):
                self._partial.unlink()


def read_records(path: Path) -> Iterator[ExportRecord]:
    """Stream the records of an export file, validating each line against the contract
    (all but the size, which depends on the target); the first bad line raises
    ``InvalidExportError`` with its number before any later line is read."""
    with _open_text(path, "r") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            yield _parse(line, number)


def _parse(line: str, number: int) -> ExportRecord:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise InvalidExportError(number, f"not JSON ({exc.msg})") from None
    if not isinstance(record, dict) or not {"collection", "id", "doc"} <= record.keys():
        raise InvalidExportError(number, 'expected {"collection": ..., "id": ..., "doc": {...}}')
    try:
        collection = validate_collection_name(record["collection"])
        doc_id = validate_document_id(record["id"])
        # No size limit here: the target's own (DATABASE_SIZE_LIMIT) is checked before
        # anything is written (transfer.fit), with every document that does not fit listed.
        body = prepare_document(record["doc"], doc_id, max_bytes=None).body
    except (ValidationError, DocumentTooLargeError) as exc:
        raise InvalidExportError(number, str(exc)) from None
    return ExportRecord(collection, doc_id, body, number)
