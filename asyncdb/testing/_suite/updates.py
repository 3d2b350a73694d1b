"""``update``: read-modify-write with retries, and no lost update under contention."""

from __future__ import annotations

from typing import Any

import anyio
import anyio.lowlevel
import pytest

from asyncdb.abc import DocumentService
from asyncdb.errors import ConflictError, InvalidDocumentError, NotFoundError

ITEMS = "items"
WRITERS = 24


class Updates:
    """update() semantics."""

    async def test_update_applies_the_function(self, db: DocumentService) -> None:
        before = await db.save(ITEMS, "u", {"count": 1, "keep": "x"})

        def bump(doc: dict[str, Any]) -> dict[str, Any]:
            return {**doc, "count": doc["count"] + 1}

        after = await db.update(ITEMS, "u", bump)
        assert after["count"] == 2 and after["keep"] == "x"
        assert after["_rev"] != before["_rev"]
        assert await db.get(ITEMS, "u") == after

    async def test_update_accepts_in_place_mutation_and_async_functions(
        self, db: DocumentService
    ) -> None:
        await db.save(ITEMS, "u", {"items": []})

        def append(doc: dict[str, Any]) -> None:
            doc["items"].append(1)

        async def append_async(doc: dict[str, Any]) -> dict[str, Any]:
            await anyio.lowlevel.checkpoint()
            doc["items"].append(2)
            return doc

        await db.update(ITEMS, "u", append)
        assert (await db.update(ITEMS, "u", append_async))["items"] == [1, 2]

    async def test_update_of_a_missing_document(self, db: DocumentService) -> None:
        with pytest.raises(NotFoundError):
            await db.update(ITEMS, "missing", lambda doc: doc)
        created = await db.update(
            ITEMS, "missing", lambda doc: {**doc, "n": doc["n"] + 1}, default={"n": 0}
        )
        assert created["n"] == 1
        again = await db.update(
            ITEMS, "missing", lambda doc: {**doc, "n": doc["n"] + 1}, default={"n": 0}
        )
        assert again["n"] == 2

    async def test_update_refuses_a_non_document_result(self, db: DocumentService) -> None:
        await db.save(ITEMS, "u", {"v": 1})
        with pytest.raises(InvalidDocumentError):
            await db.update(ITEMS, "u", lambda doc: ["not", "a", "dict"])  # type: ignore[arg-type,return-value]
        assert (await db.get(ITEMS, "u"))["v"] == 1

    async def test_concurrent_updates_lose_nothing(self, db: DocumentService) -> None:
        await db.save(ITEMS, "counter", {"count": 0, "writers": []})

        async def bump(doc: dict[str, Any], writer: int) -> dict[str, Any]:
            await anyio.lowlevel.checkpoint()  # let the other writers read the same revision
            return {**doc, "count": doc["count"] + 1, "writers": [*doc["writers"], writer]}

        async def writer(index: int) -> None:
            await db.update(ITEMS, "counter", lambda doc: bump(doc, index), attempts=200)

        async with anyio.create_task_group() as group:
            for index in range(WRITERS):
                group.start_soon(writer, index)
        final = await db.get(ITEMS, "counter")
        assert final["count"] == WRITERS
        assert sorted(final["writers"]) == list(range(WRITERS))

    async def test_concurrent_creates_of_a_missing_document_lose_nothing(
        self, db: DocumentService
    ) -> None:
        async def writer() -> None:
            await db.update(
                ITEMS,
                "fresh",
                lambda doc: {**doc, "count": doc["count"] + 1},
                default={"count": 0},
                attempts=200,
            )

        async with anyio.create_task_group() as group:
            for _ in range(WRITERS):
                group.start_soon(writer)
        assert (await db.get(ITEMS, "fresh"))["count"] == WRITERS

    async def test_update_gives_up_after_its_attempts(self, db: DocumentService) -> None:
        await db.save(ITEMS, "hot", {"v": 0})
        calls = 0

        async def interfering(doc: dict[str, Any]) -> dict[str, Any]:
            nonlocal calls
            calls += 1
            await db.save(ITEMS, "hot", {"v": -calls})  # someone else always wins the race
            return {**doc, "v": 100}

        with pytest.raises(ConflictError):
            await db.update(ITEMS, "hot", interfering, attempts=3)
        assert calls == 3
        assert (await db.get(ITEMS, "hot"))["v"] == -3
