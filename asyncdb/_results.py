"""Result types of the face: a page of documents and the outcome of a bulk call."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from asyncdb.drivers.base import WriteOutcome

__all__ = ["BulkResult", "Page", "WriteOutcome"]


@dataclass(slots=True)
class Page:
    """One page of ``list_page``: the documents and the cursor of the next page.

    ``next_cursor`` is ``None`` exactly when no document follows.
    """

    items: list[dict[str, Any]]
    next_cursor: str | None = None


@dataclass(slots=True)
class BulkResult:
    """Per-document outcomes of ``save_many`` / ``delete_many``, in the order given."""

    outcomes: list[WriteOutcome] = field(default_factory=list)

    def __iter__(self) -> Iterator[WriteOutcome]:
        return iter(self.outcomes)

    def __len__(self) -> int:
        return len(self.outcomes)

    def __getitem__(self, index: int) -> WriteOutcome:
        return self.outcomes[index]

    @property
    def ok(self) -> bool:
        """Whether every document succeeded."""
        return all(outcome.error is None for outcome in self.outcomes)

    @property
    def succeeded(self) -> list[WriteOutcome]:
        return [outcome for outcome in self.outcomes if outcome.error is None]

    @property
    def failed(self) -> list[WriteOutcome]:
        return [outcome for outcome in self.outcomes if outcome.error is not None]

    def raise_for_errors(self) -> None:
        """Raise the first failure's error (the others stay in ``failed``)."""
        for outcome in self.outcomes:
            if outcome.error is not None:
                raise outcome.error
