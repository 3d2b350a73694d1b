"""get_many, save_many, delete_many: native batches, per-document outcomes."""

from __future__ import annotations

from typing import Any

import pytest

from asyncdb._documents import MAX_DOCUMENT_BYTES
from asyncdb.abc import DocumentService
from asyncdb.errors import (
    ConflictError,
    DocumentTooLargeError,
    InvalidDocumentError,
    InvalidNameError,
    NotFoundError,
    ValidationError,
)
from asyncdb.testing.assertions import assert_same_json
from asyncdb.testing.harness import Harness

ITEMS = "items"


class BulkOperations:
    """Bulk calls: order, chunking past the backend's batch limits, mixed outcomes."""

    async def test_get_many_keeps_order_and_reports_missing(self, db: DocumentService) -> None:
        saved = {i: await db.save(ITEMS, f"d{i}", {"i": i}) for i in range(3)}
        got = await db.get_many(ITEMS, ["d2", "missing", "d0", "d2", "d1"])
        assert list(got) == ["d2", "missing", "d0", "d1"]
        assert got["missing"] is None
        for i in range(3):
            assert_same_json(got[f"d{i}"], saved[i])
        assert await db.get_many(ITEMS, []) == {}
        assert await db.get_many("others", ["x"]) == {"x": None}

    async def test_get_many_beyond_one_batch(self, db: DocumentService) -> None:
        ids = [f"id-{i:03d}" for i in range(260)]
        assert (await db.save_many(ITEMS, [{"_id": i, "v": i} for i in ids[::2]])).ok
        got = await db.get_many(ITEMS, ids)
        assert list(got) == ids
        for index, doc_id in enumerate(ids):
            doc = got[doc_id]
            if index % 2:
                assert doc is None
            else:
                assert doc is not None and doc["v"] == doc_id

    async def test_get_many_refuses_a_bad_id_before_any_io(
        self, db: DocumentService, harness: Harness
    ) -> None:
        harness.recorder.calls.clear()
        with pytest.raises(InvalidNameError):
            await db.get_many(ITEMS, ["ok", "bad\x00id"])
        with pytest.raises(InvalidNameError):
            await db.get_many(ITEMS, "not-a-list")
        assert harness.recorder.calls == []

    async def test_save_many_beyond_one_batch(self, db: DocumentService) -> None:
        docs = [{"_id": f"b{i:03d}", "i": i, "pad": "x" * 100} for i in range(130)]
        result = await db.save_many(ITEMS, docs)
        assert result.ok and len(result) == 130
        assert [outcome.id for outcome in result] == [doc["_id"] for doc in docs]
        assert all(outcome.rev for outcome in result)
        stored = {doc["_id"]: doc for doc in await db.list_all(ITEMS)}
        assert len(stored) == 130
        for outcome in result:
            assert stored[outcome.id]["_rev"] == outcome.rev

    async def test_save_many_reports_each_document(self, db: DocumentService) -> None:
        current = await db.save(ITEMS, "current", {"v": 1})
        stale = await db.save(ITEMS, "stale", {"v": 1})
        await db.save(ITEMS, "stale", {"v": 2})
        docs = [
            {"_id": "new", "v": 1},
            {"_id": "bad\x00id", "v": 1},
            {"_id": "current", "_rev": current["_rev"], "v": 2},
            {"_id": "stale", "_rev": stale["_rev"], "v": 3},
            {"_id": "nan", "v": float("nan")},
            {"_id": "big", "v": "x" * MAX_DOCUMENT_BYTES},
            {"v": "no id"},
            {"_id": 5, "v": "not a string id"},
            {"_id": "last", "v": 1},
        ]
        result = await db.save_many(ITEMS, docs)
        outcomes = list(result)
        assert len(outcomes) == len(docs)
        assert [o.ok for o in outcomes] == [
            True,
            False,
            True,
            False,
            False,
            False,
            False,
            False,
            True,
        ]
        assert isinstance(outcomes[1].error, InvalidNameError)
        assert isinstance(outcomes[3].error, ConflictError)
        assert isinstance(outcomes[4].error, InvalidDocumentError)
        assert isinstance(outcomes[5].error, DocumentTooLargeError)
        assert isinstance(outcomes[6].error, ValidationError)
        assert isinstance(outcomes[7].error, InvalidNameError)
        assert not result.ok and len(result.failed) == 6 and len(result.succeeded) == 3
        with pytest.raises(InvalidNameError):
            result.raise_for_errors()
        assert (await db.get(ITEMS, "new"))["v"] == 1
        assert (await db.get(ITEMS, "current"))["v"] == 2
        assert (await db.get(ITEMS, "stale"))["v"] == 2
        assert (await db.get(ITEMS, "last"))["_rev"] == outcomes[8].rev
        for missing in ("nan", "big"):
            with pytest.raises(NotFoundError):
                await db.get(ITEMS, missing)

    async def test_save_many_refuses_a_single_document(self, db: DocumentService) -> None:
        with pytest.raises(ValidationError):
            await db.save_many(ITEMS, {"_id": "x"})  # type: ignore[arg-type]

    async def test_delete_many_reports_each_item(self, db: DocumentService) -> None:
        keep = await db.save(ITEMS, "keep", {"v": 1})
        await db.save(ITEMS, "keep", {"v": 2})
        exact = await db.save(ITEMS, "exact", {"v": 1})
        for i in range(40):
            await db.save(ITEMS, f"plain{i:02d}", {"v": i})
        items: list[str | dict[str, Any]] = [f"plain{i:02d}" for i in range(40)]
        items += ["missing", keep, exact, "bad\x00id"]
        result = await db.delete_many(ITEMS, items)
        outcomes = list(result)
        assert len(outcomes) == 44
        assert all(o.ok for o in outcomes[:41])
        assert isinstance(outcomes[41].error, ConflictError)
        assert outcomes[42].ok
        assert isinstance(outcomes[43].error, InvalidNameError)
        assert [doc["_id"] for doc in await db.list_all(ITEMS)] == ["keep"]

    @pytest.mark.parametrize(
        "docs",
        [
            [{"_id": "a", "v": 1}, {"_id": "b"}, {"_id": "a", "v": 2}],
            [{"_id": "a", "v": 1}, {"_id": "a", "v": 1}],
            [{"_id": "a"}, {"_id": "a", "_rev": "1-abc"}],
            [{"_id": "a", "v": float("nan")}, {"_id": "a", "v": 1}],
            [{"_id": "_x/é"}, *({"_id": f"p{i:03d}"} for i in range(130)), {"_id": "_x/é"}],
        ],
        ids=["apart", "adjacent", "one-conditional", "one-invalid", "in-another-chunk"],
    )
    async def test_save_many_with_one_id_twice_is_refused_before_io(
        self, db: DocumentService, harness: Harness, docs: list[dict[str, object]]
    ) -> None:
        harness.recorder.calls.clear()
        with pytest.raises(InvalidDocumentError) as caught:
            await db.save_many(ITEMS, docs)
        assert caught.value.status_code == 422
        assert repr(docs[0]["_id"]) in str(caught.value) and "twice" in str(caught.value)
        assert harness.recorder.calls == []
        assert await db.list_all(ITEMS) == []

    @pytest.mark.parametrize(
        "items",
        [
            ["a", "b", "a"],
            ["a", {"_id": "a", "_rev": "1-abc"}],
            [{"_id": "a"}, {"_id": "a"}],
            ["__x__", *(f"p{i:03d}" for i in range(130)), {"_id": "__x__"}],
        ],
        ids=["ids", "id-and-document", "documents", "in-another-chunk"],
    )
    async def test_delete_many_with_one_id_twice_is_refused_before_io(
        self, db: DocumentService, harness: Harness, items: list[str | dict[str, Any]]
    ) -> None:
        await db.save(ITEMS, "a", {"v": 1})
        await db.save(ITEMS, "__x__", {"v": 1})
        harness.recorder.calls.clear()
        with pytest.raises(InvalidDocumentError) as caught:
            await db.delete_many(ITEMS, items)
        assert caught.value.status_code == 422
        repeated = "__x__" if "__x__" in items else "a"
        assert repr(repeated) in str(caught.value) and "twice" in str(caught.value)
        assert harness.recorder.calls == []
        assert sorted(doc["_id"] for doc in await db.list_all(ITEMS)) == ["__x__", "a"]

    async def test_get_many_with_one_id_twice_still_collapses(self, db: DocumentService) -> None:
        saved = await db.save(ITEMS, "_a/b", {"v": 1})
        assert await db.get_many(ITEMS, ["_a/b", "x", "_a/b"]) == {"_a/b": saved, "x": None}
