"""``patch``: set / unset / increment by dotted path, conditional with ``rev``, and no lost
increment under contention."""

from __future__ import annotations

import math
from typing import Any

import anyio
import pytest

from asyncdb.abc import DocumentService
from asyncdb.errors import (
    ConflictError,
    DocumentTooLargeError,
    InvalidDocumentError,
    NotFoundError,
)
from asyncdb.testing.harness import Harness

ITEMS = "items"
#: Concurrent patches of one document (the suite runs on every backend, twice: kept small).
WRITERS = 30

#: Operations refused before any I/O: ``(keyword arguments, why)``.
BAD_PATCHES: list[tuple[dict[str, Any], str]] = [
    ({"set": {"a": 1}, "unset": ["a"]}, "one path in two operations"),
    ({"set": {"a": 1}, "increment": {"a": 1}}, "one path in two operations"),
    ({"set": {"a": {"b": 1}, "a.b": 2}}, "a path inside another"),
    ({"unset": ["a.b"], "increment": {"a": 1}}, "a path inside another"),
    ({"unset": ["a", "a"]}, "a path twice"),
    ({"set": {"_id": "x"}}, "_id is not a field"),
    ({"set": {"_rev": "1-a"}}, "_rev is not a field"),
    ({"unset": ["_private"]}, "top-level _ keys are reserved"),
    ({"increment": {"_n": 1}}, "top-level _ keys are reserved"),
    ({"set": {"": 1}}, "an empty path"),
    ({"set": {"a..b": 1}}, "an empty key"),
    ({"set": {"a.": 1}}, "an empty key"),
    ({"set": {".".join(["k"] * 40): 1}}, "a path deeper than the contract"),
    ({"set": {"a": math.nan}}, "a value the contract refuses"),
    ({"set": {"a": {1, 2}}}, "a value the contract refuses"),
    ({"set": {"a": 2**64}}, "an integer beyond 64 bits"),
    ({"set": {"a\ud800": 1}}, "a key that is not valid unicode"),
    ({"increment": {"n": True}}, "a boolean amount"),
    ({"increment": {"n": "1"}}, "a string amount"),
    ({"increment": {"n": math.inf}}, "a non-finite amount"),
    ({"unset": "a"}, "unset takes a list, not a string"),
    ({"set": ["a", 1]}, "set takes a mapping"),
    ({"set": {"a": 1}, "rev": ""}, "a malformed revision"),
    ({"set": {"a": 1}, "rev": "bad rev"}, "a malformed revision"),
]


class Patches:
    """patch() semantics."""

    async def test_patch_set_by_dotted_path_creates_intermediate_maps(
        self, db: DocumentService
    ) -> None:
        before = await db.save(ITEMS, "p", {"owner": {"name": "a", "id": 1}, "keep": [1, 2]})
        after = await db.patch(ITEMS, "p", set={"owner.name": "b", "deep.er.still": {"x": None}})
        assert after["owner"] == {"name": "b", "id": 1}
        assert after["deep"] == {"er": {"still": {"x": None}}}
        assert after["keep"] == [1, 2]
        assert after["_rev"] != before["_rev"]
        assert await db.get(ITEMS, "p") == after

    async def test_patch_set_replaces_a_whole_value_and_converts_it_as_save_does(
        self, db: DocumentService
    ) -> None:
        await db.save(ITEMS, "p", {"tags": ["a"], "owner": {"name": "a"}})
        after = await db.patch(ITEMS, "p", set={"tags": ("b", "c"), "owner": {"id": 2}})
        assert after["tags"] == ["b", "c"]
        assert after["owner"] == {"id": 2}  # set replaces; it does not merge
        assert await db.get(ITEMS, "p") == after

    async def test_patch_unset_removes_and_a_missing_path_is_no_error(
        self, db: DocumentService
    ) -> None:
        await db.save(ITEMS, "p", {"a": {"b": 1, "c": 2}, "d": 3})
        after = await db.patch(ITEMS, "p", unset=["a.b", "d", "missing", "nowhere.at.all"])
        assert {k: v for k, v in after.items() if not k.startswith("_")} == {"a": {"c": 2}}
        assert await db.get(ITEMS, "p") == after

    async def test_patch_increment_keeps_the_type_of_numbers(self, db: DocumentService) -> None:
        await db.save(ITEMS, "p", {"i": 1, "f": 1.5, "whole": 2.0, "n": {"i": -3}})
        after = await db.patch(
            ITEMS, "p", increment={"i": 2, "f": 1, "whole": 1, "n.i": 3, "new": 5, "x.y": 0.5}
        )
        stored = await db.get(ITEMS, "p")
        for doc in (after, stored):
            assert doc["i"] == 3 and type(doc["i"]) is int
            assert doc["f"] == 2.5 and type(doc["f"]) is float
            assert doc["whole"] == 3.0 and type(doc["whole"]) is float  # 2.0 + 1 stays a float
            assert doc["n"] == {"i": 0} and type(doc["n"]["i"]) is int
            assert doc["new"] == 5 and type(doc["new"]) is int  # a missing field counts from 0
            assert doc["x"] == {"y": 0.5}
        after = await db.patch(ITEMS, "p", increment={"i": 0.5})
        assert after["i"] == 3.5 and type(after["i"]) is float  # int + float is a float

    async def test_a_patch_keeps_the_types_of_the_fields_it_leaves(
        self, db: DocumentService
    ) -> None:
        await db.save(ITEMS, "p", {"one": 1.0, "zero": 0.0, "int": 1, "flag": True})
        await db.patch(ITEMS, "p", set={"other": "x"})
        stored = await db.get(ITEMS, "p")
        assert type(stored["one"]) is float and type(stored["zero"]) is float
        assert type(stored["int"]) is int and stored["flag"] is True

    async def test_patch_a_path_through_a_value_that_is_not_a_map_is_refused(
        self, db: DocumentService
    ) -> None:
        before = await db.save(ITEMS, "p", {"s": "text", "l": [1], "z": None, "n": 1})
        for operation in (
            {"set": {"s.x": 1}},
            {"set": {"l.0": 1}},
            {"unset": ["n.x"]},
            {"increment": {"z.x": 1}},
        ):
            with pytest.raises(InvalidDocumentError):
                await db.patch(ITEMS, "p", **operation)
        assert await db.get(ITEMS, "p") == before

    async def test_patch_increment_of_a_value_that_is_not_a_number_is_refused(
        self, db: DocumentService
    ) -> None:
        before = await db.save(ITEMS, "p", {"s": "1", "b": True, "z": None, "m": {}})
        for field in ("s", "b", "z", "m"):
            with pytest.raises(InvalidDocumentError, match="increment"):
                await db.patch(ITEMS, "p", increment={field: 1})
        assert await db.get(ITEMS, "p") == before

    async def test_the_patched_document_must_keep_the_contract(self, db: DocumentService) -> None:
        before = await db.save(ITEMS, "p", {"n": 2**63 - 1, "text": "x"})
        with pytest.raises(InvalidDocumentError):
            await db.patch(ITEMS, "p", increment={"n": 1})  # beyond 64 bits
        with pytest.raises(DocumentTooLargeError):
            await db.patch(ITEMS, "p", set={"more": "x" * 400_000})
        assert await db.get(ITEMS, "p") == before

    @pytest.mark.parametrize(("operations", "why"), BAD_PATCHES, ids=[w for _, w in BAD_PATCHES])
    async def test_patch_bad_operations_are_refused_before_any_io(
        self, db: DocumentService, harness: Harness, operations: dict[str, Any], why: str
    ) -> None:
        harness.recorder.calls.clear()
        with pytest.raises(InvalidDocumentError):
            await db.patch(ITEMS, "p", **operations)
        assert harness.recorder.calls == [], why

    async def test_patch_with_a_revision_is_conditional(self, db: DocumentService) -> None:
        first = await db.save(ITEMS, "p", {"n": 1})
        second = await db.patch(ITEMS, "p", increment={"n": 1}, rev=first["_rev"])
        assert second["n"] == 2
        with pytest.raises(ConflictError):
            await db.patch(ITEMS, "p", increment={"n": 1}, rev=first["_rev"])
        assert await db.get(ITEMS, "p") == second
        third = await db.patch(ITEMS, "p", set={"a": 1}, rev=second["_rev"])
        assert third["n"] == 2 and third["a"] == 1

    async def test_patch_of_a_missing_document(self, db: DocumentService) -> None:
        with pytest.raises(NotFoundError):
            await db.patch(ITEMS, "missing", set={"a": 1})
        with pytest.raises(NotFoundError):
            await db.patch(ITEMS, "missing", increment={"n": 1}, rev="1-abc")
        gone = await db.save(ITEMS, "gone", {"a": 1})
        await db.delete(ITEMS, "gone")
        with pytest.raises(NotFoundError):
            await db.patch(ITEMS, "gone", set={"a": 2}, rev=gone["_rev"])
        assert (await db.get_many(ITEMS, ["missing", "gone"])) == {"missing": None, "gone": None}

    async def test_an_empty_patch_writes_nothing(self, db: DocumentService) -> None:
        before = await db.save(ITEMS, "p", {"a": 1})
        assert await db.patch(ITEMS, "p") == before
        assert await db.patch(ITEMS, "p", set={}, unset=[], rev=before["_rev"]) == before
        assert await db.get(ITEMS, "p") == before

    async def test_concurrent_patches_lose_nothing(self, db: DocumentService) -> None:
        await db.save(ITEMS, "counter", {"count": 0, "total": 0.0})

        async def writer(index: int) -> None:
            await db.patch(
                ITEMS,
                "counter",
                increment={"count": 1, "total": 0.5},
                set={f"by.w{index}": index},
                attempts=200,
            )

        async with anyio.create_task_group() as group:
            for index in range(WRITERS):
                group.start_soon(writer, index)
        final = await db.get(ITEMS, "counter")
        assert final["count"] == WRITERS and type(final["count"]) is int
        assert final["total"] == WRITERS * 0.5 and type(final["total"]) is float
        assert final["by"] == {f"w{index}": index for index in range(WRITERS)}
