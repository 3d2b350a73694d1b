"""``asyncdb._patch``: parsing and applying patches (RFC 7396 merge patches included), and
how ``patch`` writes on a driver without a native patch: one conditional write with
``rev``, the revision loop without, never a blind retry of a write whose outcome is
unknown. The native patch is in tests/test_native_patch.py; the per-backend behaviour in
the conformance suite (``asyncdb/testing/_suite/patch.py``)."""

from __future__ import annotations

import copy
from typing import Any, TypeVar

import anyio
import anyio.lowlevel
import pytest

from asyncdb import DatabaseService, SyncDatabaseService
from asyncdb._patch import Patch, merge_patch, parse_patch
from asyncdb.drivers.base import Change, Record
from asyncdb.drivers.memory import MemoryDriver
from asyncdb.errors import ConflictError, InvalidDocumentError, WriteOutcomeUnknownError
from asyncdb.middleware.base import DriverCall, DriverWrapper, Proceed

T = TypeVar("T")

# RFC 7396, appendix A: (target, patch, result), for every case whose target and result
# are documents (objects).
RFC_7396_EXAMPLES: list[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]] = [
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
    # An object replaces a value that is not one, and merges into one that is.
    (
        {"a": 5, "b": {"x": 1}},
        {"a": {"c": 1}, "b": {"y": 2}},
        {"a": {"c": 1}, "b": {"x": 1, "y": 2}},
    ),
    ({"a": [1]}, {"a": {}}, {"a": {}}),
    ({"a": {"k": 1}}, {"a": {}}, {"a": {"k": 1}}),
    ({"a": 1}, {}, {"a": 1}),
]


@pytest.mark.parametrize(("target", "patch", "result"), RFC_7396_EXAMPLES)
def test_a_merge_patch_applies_as_rfc_7396_says(
    target: dict[str, Any], patch: dict[str, Any], result: dict[str, Any]
) -> None:
    assert merge_patch(patch).apply(copy.deepcopy(target)) == result


@pytest.mark.parametrize("body", [["c"], None, "bar", 1, True])
def test_a_merge_patch_that_is_not_an_object_is_refused(body: object) -> None:
    # RFC 7396 would replace the whole target: the result would not be a document.
    with pytest.raises(InvalidDocumentError, match="JSON object"):
        merge_patch(body)


@pytest.mark.parametrize("body", [{"_id": "x"}, {"_rev": None}, {"_x": {"y": 1}}])
def test_a_merge_patch_may_not_touch_reserved_top_level_keys(body: dict[str, Any]) -> None:
    with pytest.raises(InvalidDocumentError, match="starts with '_'"):
        merge_patch(body)


def test_nested_underscore_keys_and_keys_with_dots_are_plain_keys_in_a_merge_patch() -> None:
    patch = merge_patch({"a": {"_private": 1, "b.c": 2}})
    assert patch.apply({}) == {"a": {"_private": 1, "b.c": 2}}


def test_a_merge_patch_value_goes_through_the_contract_with_its_path() -> None:
    with pytest.raises(InvalidDocumentError) as caught:
        merge_patch({"owner": {"tags": [1, float("nan")]}})
    assert caught.value.path == "$.owner.tags[1]"


def test_parse_patch_names_the_paths_it_was_given() -> None:
    patch = parse_patch(set={"a.b": 1}, unset=["c"], increment={"d.e.f": 2})
    assert patch == Patch(
        sets=((("a", "b"), 1),), unsets=(("c",),), increments=((("d", "e", "f"), 2),)
    )


def test_a_set_value_is_a_private_copy_converted_as_a_save_converts_it() -> None:
    import datetime as dt

    value = {"when": dt.date(2026, 1, 2), "items": [1]}
    patch = parse_patch(set={"v": value})
    value["items"].append(2)  # the caller's object is not shared with the patch
    first, second = patch.apply({}), patch.apply({})
    assert first == {"v": {"when": "2026-01-02", "items": [1]}}
    first["v"]["items"].append(3)  # nor are two applications (the revision loop retries)
    assert second == {"v": {"when": "2026-01-02", "items": [1]}}


def test_increments_keep_integers_and_floats_apart() -> None:
    doc = parse_patch(increment={"i": 1, "f": 1, "g": 0.5, "m": -2}).apply(
        {"i": 2**62, "f": 1.0, "g": 1}
    )
    assert doc == {"i": 2**62 + 1, "f": 2.0, "g": 1.5, "m": -2}
    assert [type(doc[k]) for k in ("i", "f", "g", "m")] == [int, float, float, int]


class _LoopOnly(DriverWrapper):
    """The memory driver without its native patch: the face patches through get and put
    (as on CouchDB)."""

    async def patch(
        self, collection: str, doc_id: str, change: Change, *, if_rev: str | None = None
    ) -> Record | None:
        return None


class _Failing(_LoopOnly):
    """Counts conditional puts; each one's answer is lost (or it conflicts) as asked."""

    def __init__(self, inner: MemoryDriver, error: Exception) -> None:
        super().__init__(inner)
        self.error = error
        self.puts = 0

    async def around(self, call: DriverCall[T], proceed: Proceed[T]) -> T:
        if call.operation == "put" and call.kwargs.get("if_rev") is not None:
            self.puts += 1
            raise self.error
        return await proceed(call)


async def test_a_patch_whose_write_outcome_is_unknown_is_not_retried() -> None:
    driver = _Failing(MemoryDriver(), WriteOutcomeUnknownError("answer lost"))
    async with DatabaseService(driver) as db:
        await db.save("items", "c", {"n": 0})
        with pytest.raises(WriteOutcomeUnknownError):
            await db.patch("items", "c", increment={"n": 1})
        assert driver.puts == 1  # an increment sent twice on a guess would count twice


async def test_a_patch_with_a_revision_is_one_conditional_write_never_retried() -> None:
    driver = _Failing(MemoryDriver(), ConflictError("stale"))
    async with DatabaseService(driver) as db:
        stored = await db.save("items", "c", {"n": 0})
        with pytest.raises(ConflictError):
            await db.patch("items", "c", increment={"n": 1}, rev=stored["_rev"])
        assert driver.puts == 1


async def test_a_patch_without_a_revision_retries_lost_races_up_to_its_attempts() -> None:
    driver = _Failing(MemoryDriver(), ConflictError("stale"))
    async with DatabaseService(driver) as db:
        await db.save("items", "c", {"n": 0})
        with pytest.raises(ConflictError, match="lost 3 races"):
            await db.patch("items", "c", increment={"n": 1}, attempts=3)
        assert driver.puts == 3


async def test_concurrent_patches_on_one_service_lose_nothing() -> None:
    # The memory driver answers without yielding; a checkpoint in the driver makes the
    # writers interleave between their read and their write, so the loop has races to lose.
    class Slow(_LoopOnly):
        puts = 0

        async def around(self, call: DriverCall[T], proceed: Proceed[T]) -> T:
            self.puts += call.operation == "put"
            await anyio.lowlevel.checkpoint()
            return await proceed(call)

    driver = Slow(MemoryDriver())
    async with DatabaseService(driver) as db:
        await db.save("items", "c", {"n": 0})
        async with anyio.create_task_group() as group:
            for _ in range(30):
                group.start_soon(lambda: db.patch("items", "c", increment={"n": 1}, attempts=200))
        assert (await db.get("items", "c"))["n"] == 30
    assert driver.puts > 31  # races were lost and retried: the loop was exercised


def test_the_blocking_facade_patches() -> None:
    with SyncDatabaseService(DatabaseService(MemoryDriver())) as db:
        db.save("items", "p", {"a": {"b": 1}})
        assert db.patch("items", "p", set={"a.c": 2}, unset=["a.b"])["a"] == {"c": 2}


async def test_a_patch_path_escapes_a_dot_as_find_does() -> None:
    async with DatabaseService(MemoryDriver()) as db:
        await db.save("items", "a", {"a.b": 1, "a": {"b": 10}})
        patched = await db.patch("items", "a", increment={"a\\.b": 1, "a.b": 5})
        assert (patched["a.b"], patched["a"]["b"]) == (2, 15)
        assert [d["_id"] for d in await db.find("items", {"a\\.b": 2, "a.b": 15})] == ["a"]
