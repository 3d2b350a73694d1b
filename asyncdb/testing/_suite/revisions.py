"""Revisions that are sent: ``""`` and ``None`` mean none; a malformed one is refused
before any I/O (422); a well-formed one that is not current is a conflict, never a crash."""

from __future__ import annotations

from typing import Any

import pytest

from asyncdb.abc import DocumentService
from asyncdb.errors import ConflictError, InvalidDocumentError, ValidationError
from asyncdb.testing.harness import Harness

ITEMS = "items"

#: Revisions of the wrong shape: not 1 to 256 printable ASCII characters.
MALFORMED_REVISIONS: list[Any] = [
    5,
    True,
    1.5,
    ["1-a"],
    {"rev": "1-a"},
    b"1-abc",
    "with space",
    " 1-abc",
    "1-abc\n",
    "tab\t",
    "nul\x00",
    "é-1",
    "1-\u200b",
    "\ud800",
    "x" * 257,
    "1-" + "b" * 2_000_000,
]

#: Well-formed revisions that no backend issued: a conflict, like any stale revision.
FOREIGN_REVISIONS: list[str] = [
    "1-abc",
    "9-" + "f" * 254,
    "~" * 256,
    "0",
    "!",
    "2026-01-01T00:00:00.000000Z",
    "1-ZZZZ",
    "%2F..%2F_users",
]


def _label(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 30 else text[:20] + f"...({len(text)})"


class Revisions:
    """The revision rules of docs/contract.md on every backend."""

    @pytest.mark.parametrize("empty", ["", None])
    async def test_an_empty_or_null_rev_means_no_revision(
        self, db: DocumentService, empty: str | None
    ) -> None:
        created = await db.save(ITEMS, "r", {"_rev": empty, "v": 1})
        assert isinstance(created["_rev"], str) and created["_rev"]
        assert created == {"_id": "r", "_rev": created["_rev"], "v": 1}
        # Unconditional: it overwrites whatever revision is stored.
        await db.save(ITEMS, "r", {"v": 2})
        overwritten = await db.save(ITEMS, "r", {"_id": "r", "_rev": empty, "v": 3})
        got = await db.get(ITEMS, "r")
        assert got == overwritten and got["v"] == 3
        result = await db.save_many(ITEMS, [{"_id": "r", "_rev": empty, "v": 4}, {"_id": "s"}])
        assert result.ok, result.failed
        assert (await db.get(ITEMS, "r"))["v"] == 4
        removed = await db.delete_many(ITEMS, [{"_id": "r", "_rev": empty}])
        assert removed.ok and await db.get_many(ITEMS, ["r"]) == {"r": None}
        assert (await db.create(ITEMS, "t", {"_rev": empty, "v": 1}))["v"] == 1

    @pytest.mark.parametrize("rev", MALFORMED_REVISIONS, ids=_label)
    async def test_a_malformed_revision_is_refused_before_io(
        self, db: DocumentService, harness: Harness, rev: Any
    ) -> None:
        harness.recorder.calls.clear()
        with pytest.raises(InvalidDocumentError) as caught:
            await db.save(ITEMS, "r", {"_rev": rev, "v": 1})
        assert caught.value.status_code == 422 and caught.value.path == "$._rev"
        assert "revision" in str(caught.value)
        with pytest.raises(InvalidDocumentError) as caught:
            await db.delete(ITEMS, "r", rev=rev)
        assert caught.value.status_code == 422
        saved = await db.save_many(ITEMS, [{"_id": "r", "_rev": rev, "v": 1}])
        assert isinstance(saved[0].error, InvalidDocumentError) and saved[0].id == "r"
        deleted = await db.delete_many(ITEMS, [{"_id": "r", "_rev": rev}])
        assert isinstance(deleted[0].error, InvalidDocumentError) and deleted[0].id == "r"
        assert harness.recorder.calls == []

    async def test_an_empty_rev_argument_of_delete_is_refused(self, db: DocumentService) -> None:
        # In a document "" means "no revision"; an explicit empty argument is a mistake.
        with pytest.raises(ValidationError):
            await db.delete(ITEMS, "r", rev="")

    @pytest.mark.parametrize("rev", FOREIGN_REVISIONS, ids=_label)
    async def test_a_well_formed_foreign_revision_is_a_conflict(
        self, db: DocumentService, rev: str
    ) -> None:
        with pytest.raises(ConflictError):
            await db.save(ITEMS, "missing", {"_rev": rev, "v": 1})
        stored = await db.save(ITEMS, "r", {"v": 1})
        with pytest.raises(ConflictError):
            await db.save(ITEMS, "r", {"_rev": rev, "v": 2})
        with pytest.raises(ConflictError):
            await db.delete(ITEMS, "r", rev=rev)
        result = await db.save_many(ITEMS, [{"_id": "r", "_rev": rev, "v": 3}])
        assert isinstance(result[0].error, ConflictError)
        result = await db.delete_many(ITEMS, [{"_id": "r", "_rev": rev}])
        assert isinstance(result[0].error, ConflictError)
        assert await db.get(ITEMS, "r") == stored
        assert await db.delete(ITEMS, "missing", rev=rev) is False
