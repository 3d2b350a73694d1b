"""Does every document fit the target? The check ``migrate`` and ``import`` make over the
whole source before they write anything.

A document fits when the target service accepts it as ``save`` would, under the target's
``DATABASE_SIZE_LIMIT`` (``portable``: the contract's measure and limit; ``native``: the
backend's own). The check holds counts per collection and the documents that do not fit
(at most ``MAX_LISTED`` of them in detail), never the documents themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from asyncdb._documents import MAX_DOCUMENT_BYTES, MAX_NATIVE_DOCUMENT_BYTES, prepare_document
from asyncdb._service import DatabaseService
from asyncdb.errors import DocumentTooLargeError

__all__ = ["MAX_LISTED", "FitCheck", "Misfit", "TargetLimitError"]

#: Documents that do not fit, listed one by one; beyond that only counted.
MAX_LISTED = 1000


@dataclass(frozen=True, slots=True)
class Misfit:
    """One document that the target cannot hold: its size by the target's measure and
    the target's limit, in bytes."""

    collection: str
    id: str
    size: int
    limit: int


class TargetLimitError(DocumentTooLargeError):
    """Documents of the source exceed the target's size limit; nothing was written.

    ``misfits`` lists up to ``MAX_LISTED`` of them, ``total`` counts them all and
    ``mode`` is the target's ``DATABASE_SIZE_LIMIT``.
    """

    def __init__(self, misfits: list[Misfit], total: int, mode: str) -> None:
        super().__init__(
            f"{total} document{'s exceed' if total != 1 else ' exceeds'} the target's size limit "
            f"(DATABASE_SIZE_LIMIT={mode}); nothing was written"
        )
        self.misfits = misfits
        self.total = total
        self.mode = mode


@dataclass
class FitCheck:
    """Checks documents against ``target`` one by one; ``raise_if_any`` at the end."""

    target: DatabaseService
    counts: dict[str, int] = field(default_factory=dict)
    misfits: list[Misfit] = field(default_factory=list)
    total_misfits: int = 0

    async def check(self, collection: str, doc_id: str, doc: dict[str, Any]) -> None:
        """Count the document and note it if the target cannot hold it. Other refusals
        (a document the contract refuses) propagate: the transfer stops before writing."""
        self.counts[collection] = self.counts.get(collection, 0) + 1
        body = {key: value for key, value in doc.items() if key not in ("_id", "_rev")}
        try:
            await self.target.check_document(doc_id, body)
        except DocumentTooLargeError:
            self.total_misfits += 1
            if len(self.misfits) < MAX_LISTED:
                size, limit = self._measure(doc_id, body)
                self.misfits.append(Misfit(collection, doc_id, size, limit))

    def raise_if_any(self) -> None:
        if self.total_misfits:
            raise TargetLimitError(self.misfits, self.total_misfits, self.target.size_limit)

    def _measure(self, doc_id: str, body: dict[str, Any]) -> tuple[int, int]:
        """The size and limit that the target's check applied (for the report only)."""
        prepared = prepare_document(body, doc_id, max_bytes=None)
        if self.target.size_limit != "native":
            return prepared.size, MAX_DOCUMENT_BYTES
        driver = self.target.driver
        limit = driver.limits.native_document_bytes
        size = driver.native_document_size(doc_id, prepared.body)
        return size, MAX_NATIVE_DOCUMENT_BYTES if limit is None else limit
