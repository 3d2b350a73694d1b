"""The memory driver's stored form: a private copy that reads back like JSON would."""

from __future__ import annotations

import asyncio
import enum
from typing import Any

import pytest

from asyncdb import DatabaseService
from asyncdb.drivers.memory import MemoryDriver


def _round_trip(body: dict[str, Any]) -> dict[str, Any]:
    async def run() -> dict[str, Any]:
        driver = MemoryDriver()
        await driver.put("items", "a", body)
        record = await driver.get("items", "a")
        assert record is not None
        return record.body

    return asyncio.run(run())


def test_a_list_held_twice_reads_back_as_two_lists() -> None:
    # A pickle with a memo would give one list in two places: mutating one would change
    # the other, which a JSON round trip (and every other backend) never does.
    tags = ["a", "b"]
    got = _round_trip({"one": tags, "two": tags, "nested": {"three": tags}})
    assert got == {"one": ["a", "b"], "two": ["a", "b"], "nested": {"three": ["a", "b"]}}
    got["one"].append("x")
    assert got["two"] == ["a", "b"] and got["nested"]["three"] == ["a", "b"]


def test_each_read_is_a_fresh_copy_and_the_caller_keeps_its_own() -> None:
    async def run() -> None:
        driver = MemoryDriver()
        body: dict[str, Any] = {"list": [1, {"x": "y"}]}
        await driver.put("items", "a", body)
        body["list"][1]["x"] = "changed"
        first = await driver.get("items", "a")
        second = await driver.get("items", "a")
        assert first is not None and second is not None
        assert first.body == {"list": [1, {"x": "y"}]}
        assert first.body["list"] is not second.body["list"]
        first.body["list"].clear()
        page = await driver.scan("items", after=None, limit=10)
        assert page.records[0].body == {"list": [1, {"x": "y"}]}

    asyncio.run(run())


def test_a_cycle_is_refused_not_stored_and_the_next_write_is_whole() -> None:
    body: dict[str, Any] = {"a": []}
    level = body["a"]
    for _ in range(60):  # the pickler checks for cycles past its nesting limit of 50
        inner: list[Any] = []
        level.append(inner)
        level = inner
    level.append(body)

    async def run() -> None:
        driver = MemoryDriver()
        with pytest.raises(ValueError, match="cyclic"):
            await driver.put("items", "cycle", body)
        assert await driver.get("items", "cycle") is None
        # The pickler and its buffer are reused: a failed write leaves nothing behind.
        await driver.put("items", "b", {"after": [1, 2]})
        record = await driver.get("items", "b")
        assert record is not None and record.body == {"after": [1, 2]}

    asyncio.run(run())


def test_a_str_subclass_key_is_stored_as_a_plain_string() -> None:
    # JSON (and every other backend) keeps a key's text only; so does the face's copy.
    class Field(enum.StrEnum):
        NAME = "name"
        KIND = "kind"

    async def run() -> dict[str, Any]:
        db = DatabaseService(MemoryDriver())
        doc = {Field.NAME: "x", Field.KIND: "y", "a": 1, "b": 2, "nested": {Field.NAME: 1}}
        saved = await db.save("items", "a", doc)
        assert [type(key) for key in saved] == [str] * 7
        return await db.get("items", "a")

    got = asyncio.run(run())
    assert [type(key) for key in got] == [str] * 7
    assert [type(key) for key in got["nested"]] == [str]
    assert got == {
        "_id": "a",
        "_rev": got["_rev"],
        "name": "x",
        "kind": "y",
        "a": 1,
        "b": 2,
        "nested": {"name": 1},
    }
