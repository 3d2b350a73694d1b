"""list_page, iter_all and cursors."""

from __future__ import annotations

import base64
import json

import pytest

from asyncdb.abc import DocumentService
from asyncdb.errors import InvalidCursorError, ValidationError

ITEMS = "items"
OTHERS = "others"
PAGE = 10


def _forged(payload: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode()


async def _fill(db: DocumentService, count: int, collection: str = ITEMS) -> set[str]:
    ids = {f"doc-{index:04d}" for index in range(count)}
    result = await db.save_many(collection, [{"_id": doc_id, "n": 1} for doc_id in ids])
    assert result.ok, result.failed
    return ids


async def _pages(db: DocumentService, limit: int) -> list[list[str]]:
    pages: list[list[str]] = []
    cursor: str | None = None
    while True:
        page = await db.list_page(ITEMS, limit=limit, cursor=cursor)
        pages.append([doc["_id"] for doc in page.items])
        cursor = page.next_cursor
        if cursor is None:
            return pages
        assert len(pages) < 1000, "pagination does not end"


class Pagination:
    """Pages are complete, disjoint, of the asked size, and end with no cursor."""

    @pytest.mark.parametrize("count", [0, 1, PAGE - 1, PAGE, PAGE + 1, 5 * PAGE + 3])
    async def test_pages_cover_every_document_once(self, db: DocumentService, count: int) -> None:
        ids = await _fill(db, count)
        pages = await _pages(db, PAGE)
        seen = [doc_id for page in pages for doc_id in page]
        assert sorted(seen) == sorted(ids)
        assert all(len(page) == PAGE for page in pages[:-1])
        assert len(pages[-1]) == (count % PAGE or min(count, PAGE))
        assert len(pages) == max(1, -(-count // PAGE))

    async def test_page_of_a_missing_collection_is_empty(self, db: DocumentService) -> None:
        page = await db.list_page(ITEMS, limit=5)
        assert page.items == [] and page.next_cursor is None

    async def test_pages_carry_whole_documents(self, db: DocumentService) -> None:
        saved = await db.save(ITEMS, "only", {"a": [1, {"b": None}]})
        page = await db.list_page(ITEMS, limit=5)
        assert page.items == [saved]

    async def test_iter_all_streams_every_document_once(self, db: DocumentService) -> None:
        ids = await _fill(db, 57)
        seen = [doc["_id"] async for doc in db.iter_all(ITEMS, page_size=7)]
        assert sorted(seen) == sorted(ids)
        assert [d async for d in db.iter_all(OTHERS, page_size=7)] == []

    async def test_pagination_is_stable_under_concurrent_writes(self, db: DocumentService) -> None:
        stable = await _fill(db, 40)
        seen: list[str] = []
        cursor: str | None = None
        round_ = 0
        while True:
            page = await db.list_page(ITEMS, limit=PAGE, cursor=cursor)
            seen.extend(doc["_id"] for doc in page.items)
            # Writers insert before and after the position and delete what was just read.
            await db.save(ITEMS, f"aaa-new-{round_}", {"n": 2})
            await db.save(ITEMS, f"zzz-new-{round_}", {"n": 2})
            if page.items:
                await db.delete(ITEMS, page.items[-1]["_id"])
            round_ += 1
            cursor = page.next_cursor
            if cursor is None:
                break
        seen_stable = [doc_id for doc_id in seen if doc_id in stable]
        assert sorted(seen_stable) == sorted(stable)
        assert len(seen) == len(set(seen))

    @pytest.mark.parametrize(
        "cursor",
        [
            "garbage",
            "",
            "!!!not-base64!!!",
            base64.urlsafe_b64encode(b"not json").decode(),
            base64.urlsafe_b64encode(b"[1,2]").decode(),
            base64.urlsafe_b64encode(json.dumps({"v": 99, "c": ITEMS, "k": "x"}).encode()).decode(),
            base64.urlsafe_b64encode(
                json.dumps({"v": 1, "c": ITEMS, "k": "a\u0000b"}).encode()
            ).decode(),
            base64.urlsafe_b64encode(json.dumps({"v": 1, "c": ITEMS, "k": 5}).encode()).decode(),
            base64.urlsafe_b64encode(json.dumps({"v": 1, "c": ITEMS, "k": ""}).encode()).decode(),
            _forged({"v": 1, "c": ITEMS, "k": "x" * 4097}),
            "x" * 10_000,
        ],
    )
    async def test_a_forged_cursor_is_refused(self, db: DocumentService, cursor: str) -> None:
        await _fill(db, 3)
        with pytest.raises(InvalidCursorError) as caught:
            await db.list_page(ITEMS, limit=2, cursor=cursor)
        assert caught.value.status_code == 400

    async def test_a_cursor_of_another_collection_is_refused(self, db: DocumentService) -> None:
        await _fill(db, 3, OTHERS)
        cursor = (await db.list_page(OTHERS, limit=1)).next_cursor
        assert cursor is not None
        with pytest.raises(InvalidCursorError):
            await db.list_page(ITEMS, limit=1, cursor=cursor)

    async def test_a_cursor_survives_deletion_of_its_position(self, db: DocumentService) -> None:
        ids = await _fill(db, 6)
        first = await db.list_page(ITEMS, limit=3)
        for doc in first.items:
            await db.delete(ITEMS, doc["_id"])
        assert first.next_cursor is not None
        rest = await db.list_page(ITEMS, limit=10, cursor=first.next_cursor)
        assert sorted(doc["_id"] for doc in rest.items) == sorted(
            ids - {doc["_id"] for doc in first.items}
        )
        assert rest.next_cursor is None

    @pytest.mark.parametrize("limit", [0, -1, 1001, 2.5, "10", True, None])
    async def test_a_bad_page_size_is_refused(self, db: DocumentService, limit: object) -> None:
        with pytest.raises(ValidationError):
            await db.list_page(ITEMS, limit=limit)  # type: ignore[arg-type]
        with pytest.raises(ValidationError):
            [doc async for doc in db.iter_all(ITEMS, page_size=limit)]  # type: ignore[arg-type]
