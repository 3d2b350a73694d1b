"""Verification: do two services hold the same documents? Counts and a content hash per
document, ignoring revisions (each backend issues its own)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from asyncdb._service import DatabaseService
from asyncdb.transfer._engine import collections_of

__all__ = ["Difference", "VerifyReport", "content_hash", "verify"]

_canonical = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), sort_keys=True, allow_nan=False
).encode


def content_hash(doc: dict[str, Any]) -> str:
    """SHA-256 of the document's canonical JSON, without ``_rev`` (types included:
    ``1`` and ``1.0`` hash differently)."""
    body = {k: v for k, v in doc.items() if k != "_rev"}
    return hashlib.sha256(_canonical(body).encode()).hexdigest()


@dataclass(frozen=True)
class Difference:
    """One document that is not the same on both sides."""

    collection: str
    id: str
    kind: str  # "missing" (only in source), "extra" (only in target), "different"


@dataclass
class VerifyReport:
    """Per collection: (documents in source, documents in target); and every difference."""

    counts: dict[str, tuple[int, int]] = field(default_factory=dict)
    differences: list[Difference] = field(default_factory=list)

    @property
    def equal(self) -> bool:
        return not self.differences


async def verify(
    source: DatabaseService,
    target: DatabaseService,
    collections: Sequence[str] | None = None,
    *,
    page_size: int = 500,
) -> VerifyReport:
    """Compare the collections (all of the source's by default) on both sides.

    Holds one hash per document of a collection in memory (about 100 bytes each).
    """
    report = VerifyReport()
    for name in await collections_of(source, collections):
        expected: dict[str, str] = {}
        async for doc in source.iter_all(name, page_size=page_size):
            expected[doc["_id"]] = content_hash(doc)
        source_count = len(expected)
        seen = 0
        async for doc in target.iter_all(name, page_size=page_size):
            seen += 1
            wanted = expected.pop(doc["_id"], None)
            if wanted is None:
                report.differences.append(Difference(name, doc["_id"], "extra"))
            elif wanted != content_hash(doc):
                report.differences.append(Difference(name, doc["_id"], "different"))
        report.counts[name] = (source_count, seen)
        missing = sorted(expected)
        report.differences.extend(Difference(name, doc_id, "missing") for doc_id in missing)
    return report
