"""Portable ids: every id the contract allows round-trips through every operation, even
where the backend cannot hold it as a key and the driver encodes it (a leading ``_`` on
CouchDB; ``/``, ``.``, ``..``, ``__x__`` and long ids on Firestore; long ids on DynamoDB).

The tests do not know any driver's encoding; they check what a caller sees: the exact id
back from every call, no two ids aliased, listing and pagination complete.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from asyncdb._documents import MAX_DOCUMENT_BYTES, prepare_document
from asyncdb.abc import DocumentService
from asyncdb.errors import ConflictError, NotFoundError
from asyncdb.testing.assertions import assert_same_json
from asyncdb.testing.samples import LOOKALIKE_ID_GROUPS, ODD_VALID_IDS, PORTABLE_IDS
from asyncdb.testing.strategies import document_ids

ITEMS = "items"


def _label(doc_id: str) -> str:
    """A short test id for long ids."""
    size = len(doc_id.encode("utf-8"))
    return repr(doc_id) if size <= 40 else f"{doc_id[:6]!r}...{size}B"


async def _walk(db: DocumentService, limit: int) -> list[str]:
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(1000):
        page = await db.list_page(ITEMS, limit=limit, cursor=cursor)
        seen.extend(doc["_id"] for doc in page.items)
        cursor = page.next_cursor
        if cursor is None:
            return seen
    raise AssertionError("pagination does not end")


class PortableIds:
    """Ids with ``/``, a leading ``_``, ``.``, ``..``, ``__x__``, escape look-alikes, and
    up to 4,096 bytes: stored, read, listed, paged, queried and deleted exactly."""

    @pytest.mark.parametrize("doc_id", PORTABLE_IDS, ids=_label)
    async def test_a_portable_id_goes_through_every_operation(
        self, db: DocumentService, doc_id: str
    ) -> None:
        saved = await db.save(ITEMS, doc_id, {"tag": "one", "v": 1})
        assert saved["_id"] == doc_id
        got = await db.get(ITEMS, doc_id)
        assert_same_json(got, saved)
        # A conditional save with the current revision succeeds; a stale one conflicts.
        second = await db.save(ITEMS, doc_id, {**got, "v": 2})
        assert second["_rev"] != saved["_rev"]
        with pytest.raises(ConflictError):
            await db.save(ITEMS, doc_id, {**saved, "v": 3})
        with pytest.raises(ConflictError):
            await db.create(ITEMS, doc_id, {"v": 4})
        assert_same_json(await db.get(ITEMS, doc_id), second)
        assert (await db.get_many(ITEMS, [doc_id, "plain"])) == {doc_id: second, "plain": None}
        assert [d["_id"] for d in await db.list_all(ITEMS)] == [doc_id]
        assert [d["_id"] async for d in db.iter_all(ITEMS, page_size=1)] == [doc_id]
        page = await db.list_page(ITEMS, limit=1)
        assert [d["_id"] for d in page.items] == [doc_id] and page.next_cursor is None
        assert [d["_id"] for d in await db.find(ITEMS, {"tag": "one"})] == [doc_id]
        assert [d["_id"] for d in await db.find(ITEMS, {"v": {"$in": [2, 5]}}, ["v"])] == [doc_id]
        with pytest.raises(ConflictError):
            await db.delete(ITEMS, doc_id, rev=saved["_rev"])
        assert await db.delete(ITEMS, doc_id, rev=second["_rev"]) is True
        with pytest.raises(NotFoundError):
            await db.get(ITEMS, doc_id)
        assert await db.delete(ITEMS, doc_id) is False
        assert await db.list_all(ITEMS) == []

    @pytest.mark.parametrize("doc_id", PORTABLE_IDS, ids=_label)
    async def test_a_portable_id_goes_through_the_bulk_calls(
        self, db: DocumentService, doc_id: str
    ) -> None:
        result = await db.save_many(ITEMS, [{"_id": doc_id, "v": 1}, {"_id": "plain", "v": 1}])
        assert result.ok, result.failed
        assert [outcome.id for outcome in result] == [doc_id, "plain"]
        got = await db.get_many(ITEMS, [doc_id])
        stored = got[doc_id]
        assert stored is not None and stored["_rev"] == result[0].rev and stored["v"] == 1
        again = await db.save_many(ITEMS, [{**stored, "v": 2}])
        assert again.ok, again.failed
        stale = await db.save_many(ITEMS, [{**stored, "v": 3}])
        assert isinstance(stale[0].error, ConflictError) and stale[0].id == doc_id
        refused = await db.delete_many(ITEMS, [stored])
        assert isinstance(refused[0].error, ConflictError) and refused[0].id == doc_id
        removed = await db.delete_many(ITEMS, [{"_id": doc_id, "_rev": again[0].rev}, "plain"])
        assert removed.ok, removed.failed
        assert [outcome.id for outcome in removed] == [doc_id, "plain"]
        assert await db.get_many(ITEMS, [doc_id]) == {doc_id: None}
        assert await db.list_all(ITEMS) == []

    @pytest.mark.parametrize("group", LOOKALIKE_ID_GROUPS, ids=lambda g: _label(g[0]))
    async def test_look_alike_ids_are_distinct_documents(
        self, db: DocumentService, group: list[str]
    ) -> None:
        for index, doc_id in enumerate(group):
            await db.save(ITEMS, doc_id, {"n": index})
        for index, doc_id in enumerate(group):
            assert (await db.get(ITEMS, doc_id))["n"] == index, doc_id
        listed = {doc["_id"]: doc["n"] for doc in await db.list_all(ITEMS)}
        assert listed == {doc_id: index for index, doc_id in enumerate(group)}
        got = await db.get_many(ITEMS, group)
        assert {doc_id: doc["n"] for doc_id, doc in got.items() if doc} == listed
        # Deleting one leaves every look-alike in place.
        assert await db.delete(ITEMS, group[0]) is True
        remaining = sorted(doc["_id"] for doc in await db.list_all(ITEMS))
        assert remaining == sorted(group[1:])
        for index, doc_id in enumerate(group[1:], start=1):
            assert (await db.get(ITEMS, doc_id))["n"] == index

    @pytest.mark.parametrize("limit", [1, 7, 1000])
    async def test_listing_and_pages_are_complete_with_every_kind_of_id(
        self, db: DocumentService, limit: int
    ) -> None:
        plain = [f"plain-{index:03d}" for index in range(25)]
        every = sorted(
            set(PORTABLE_IDS + ODD_VALID_IDS + plain + [i for g in LOOKALIKE_ID_GROUPS for i in g])
        )
        for start in range(0, len(every), 20):
            batch = [{"_id": doc_id, "n": 1} for doc_id in every[start : start + 20]]
            result = await db.save_many(ITEMS, batch)
            assert result.ok, result.failed
        walked = await _walk(db, limit)
        assert len(walked) == len(set(walked)), "a page repeated an id"
        assert sorted(walked) == every
        streamed = [doc["_id"] async for doc in db.iter_all(ITEMS, page_size=limit)]
        assert sorted(streamed) == every
        assert sorted(doc["_id"] for doc in await db.find(ITEMS, {"n": 1})) == every

    async def test_pages_resume_after_a_deleted_long_id(self, db: DocumentService) -> None:
        ids = sorted(PORTABLE_IDS)
        assert (await db.save_many(ITEMS, [{"_id": doc_id} for doc_id in ids])).ok
        seen: list[str] = []
        cursor: str | None = None
        while True:
            page = await db.list_page(ITEMS, limit=3, cursor=cursor)
            seen.extend(doc["_id"] for doc in page.items)
            for doc in page.items:  # the cursor's own position disappears
                await db.delete(ITEMS, doc["_id"])
            cursor = page.next_cursor
            if cursor is None:
                break
        assert sorted(seen) == ids

    @pytest.mark.parametrize("doc_id", ["a" * 4096, "😀" * 1024, "_" + "/" * 4095])
    async def test_a_longest_id_with_a_document_at_the_size_limit(
        self, db: DocumentService, doc_id: str
    ) -> None:
        # The id counts towards the portable measure; a driver that stores it escaped or
        # under a digest (and the original beside it) must still fit the backend's limit.
        base = prepare_document({"blob": ""}, doc_id).size
        body: dict[str, Any] = {"blob": "x" * (MAX_DOCUMENT_BYTES - base)}
        assert prepare_document(body, doc_id).size == MAX_DOCUMENT_BYTES
        saved = await db.save(ITEMS, doc_id, body)
        got = await db.get(ITEMS, doc_id)
        assert got["_rev"] == saved["_rev"] and got["blob"] == body["blob"]
        assert await db.delete(ITEMS, doc_id, rev=saved["_rev"]) is True

    async def test_cursors_after_the_longest_ids_json_escapes_entirely(
        self, db: DocumentService
    ) -> None:
        ids = sorted(['"' * 4096, "\\" * 4096, "a", '"' * 4095 + "\\"])
        assert (await db.save_many(ITEMS, [{"_id": doc_id} for doc_id in ids])).ok
        assert sorted(await _walk(db, 1)) == ids

    @settings(
        max_examples=15,
        deadline=None,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.differing_executors,
        ],
    )
    @given(ids=st.sets(document_ids, min_size=1, max_size=12), limit=st.integers(1, 5))
    async def test_generated_ids_list_and_page_exactly(
        self, db: DocumentService, ids: set[str], limit: int
    ) -> None:
        result = await db.save_many(ITEMS, [{"_id": doc_id, "id": doc_id} for doc_id in ids])
        assert result.ok, result.failed
        try:
            walked = await _walk(db, limit)
            assert sorted(walked) == sorted(ids) and len(walked) == len(ids)
            got = await db.get_many(ITEMS, sorted(ids))
            assert all(doc is not None and doc["id"] == doc_id for doc_id, doc in got.items())
        finally:
            removed = await db.delete_many(ITEMS, sorted(ids))
            assert removed.ok, removed.failed
        assert await db.list_all(ITEMS) == []
