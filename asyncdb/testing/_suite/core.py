"""Single-document operations: get, save, create, delete, list_all, revisions, copies."""

from __future__ import annotations

import datetime as dt
import enum
import math
import uuid
from decimal import Decimal
from typing import Any, ClassVar

import pytest
from pydantic import BaseModel, Field

from asyncdb.abc import DocumentService
from asyncdb.errors import BackendError, ConflictError, InvalidDocumentError, NotFoundError
from asyncdb.testing.assertions import assert_same_json
from asyncdb.testing.harness import Harness
from asyncdb.testing.samples import ODD_VALID_IDS, ODD_VALID_KEYS

ITEMS = "items"
OTHERS = "others"


class _Colour(enum.Enum):
    RED = "red"


class _Model(BaseModel):
    name: str
    when: dt.datetime
    tags: list[str] = Field(default_factory=list)


class CoreOperations:
    """get / save / create / delete / list_all and what they promise."""

    async def test_get_missing_document_raises_not_found(self, db: DocumentService) -> None:
        with pytest.raises(NotFoundError) as caught:
            await db.get(ITEMS, "nope")
        assert caught.value.status_code == 404
        await db.save(ITEMS, "present", {"a": 1})
        with pytest.raises(NotFoundError):
            await db.get(ITEMS, "nope")

    async def test_save_returns_the_stored_document_with_id_and_rev(
        self, db: DocumentService
    ) -> None:
        saved = await db.save(ITEMS, "a1", {"name": "Ada", "n": 1})
        assert saved["_id"] == "a1"
        assert isinstance(saved["_rev"], str) and saved["_rev"]
        assert_same_json(saved, {"_id": "a1", "_rev": saved["_rev"], "name": "Ada", "n": 1})
        assert_same_json(await db.get(ITEMS, "a1"), saved)

    async def test_save_without_rev_upserts_last_writer_wins(self, db: DocumentService) -> None:
        first = await db.save(ITEMS, "a1", {"v": 1, "gone": True})
        second = await db.save(ITEMS, "a1", {"v": 2})
        assert second["_rev"] != first["_rev"]
        assert_same_json(await db.get(ITEMS, "a1"), {"_id": "a1", "_rev": second["_rev"], "v": 2})

    async def test_save_with_current_rev_succeeds_and_stale_rev_conflicts(
        self, db: DocumentService
    ) -> None:
        first = await db.save(ITEMS, "a1", {"v": 1})
        second = await db.save(ITEMS, "a1", {**first, "v": 2})
        assert second["_rev"] != first["_rev"]
        with pytest.raises(ConflictError) as caught:
            await db.save(ITEMS, "a1", {**first, "v": 3})
        assert caught.value.status_code == 409
        assert (await db.get(ITEMS, "a1"))["v"] == 2

    async def test_save_with_rev_of_a_missing_document_conflicts(self, db: DocumentService) -> None:
        saved = await db.save(ITEMS, "a1", {"v": 1})
        await db.delete(ITEMS, "a1")
        with pytest.raises(ConflictError):
            await db.save(ITEMS, "a1", saved)
        with pytest.raises(NotFoundError):
            await db.get(ITEMS, "a1")

    async def test_revision_of_a_deleted_document_does_not_match_its_successor(
        self, db: DocumentService
    ) -> None:
        old = await db.save(ITEMS, "a1", {"v": 1})
        await db.delete(ITEMS, "a1")
        new = await db.save(ITEMS, "a1", {"v": 1})
        assert new["_rev"] != old["_rev"]
        with pytest.raises(ConflictError):
            await db.save(ITEMS, "a1", {**old, "v": 2})

    async def test_every_write_changes_the_revision(self, db: DocumentService) -> None:
        revs = set()
        doc = await db.save(ITEMS, "a1", {"v": 0})
        revs.add(doc["_rev"])
        for value in range(1, 6):
            doc = await db.save(ITEMS, "a1", {**doc, "v": value})
            revs.add(doc["_rev"])
        assert len(revs) == 6

    async def test_id_in_the_body_must_match(self, db: DocumentService) -> None:
        with pytest.raises(InvalidDocumentError) as caught:
            await db.save(ITEMS, "a1", {"_id": "other", "v": 1})
        assert caught.value.status_code == 422
        assert (await db.save(ITEMS, "a1", {"_id": "a1", "v": 1}))["v"] == 1

    async def test_create_writes_only_a_free_id(self, db: DocumentService) -> None:
        created = await db.create(ITEMS, "dep", {"agentId": "x"})
        assert created["_id"] == "dep" and created["_rev"]
        with pytest.raises(ConflictError):
            await db.create(ITEMS, "dep", {"agentId": "y"})
        assert (await db.get(ITEMS, "dep"))["agentId"] == "x"
        with pytest.raises(InvalidDocumentError):
            await db.create(ITEMS, "dep2", {"_rev": created["_rev"], "agentId": "z"})

    async def test_create_after_delete_succeeds(self, db: DocumentService) -> None:
        await db.create(ITEMS, "dep", {"v": 1})
        await db.delete(ITEMS, "dep")
        assert (await db.create(ITEMS, "dep", {"v": 2}))["v"] == 2

    async def test_delete_removes_and_missing_is_silent(self, db: DocumentService) -> None:
        assert await db.delete(ITEMS, "never") is False
        await db.save(ITEMS, "a1", {"v": 1})
        assert await db.delete(ITEMS, "a1") is True
        with pytest.raises(NotFoundError):
            await db.get(ITEMS, "a1")
        assert await db.delete(ITEMS, "a1") is False

    async def test_delete_with_rev_is_conditional(self, db: DocumentService) -> None:
        first = await db.save(ITEMS, "a1", {"v": 1})
        second = await db.save(ITEMS, "a1", {"v": 2})
        with pytest.raises(ConflictError):
            await db.delete(ITEMS, "a1", rev=first["_rev"])
        assert (await db.get(ITEMS, "a1"))["v"] == 2
        assert await db.delete(ITEMS, "a1", rev=second["_rev"]) is True
        assert await db.delete(ITEMS, "a1", rev=second["_rev"]) is False

    async def test_list_all_of_a_missing_collection_is_empty(self, db: DocumentService) -> None:
        assert await db.list_all(ITEMS) == []

    async def test_list_all_returns_every_document(self, db: DocumentService) -> None:
        saved = {f"d{i:02d}": await db.save(ITEMS, f"d{i:02d}", {"i": i}) for i in range(12)}
        listed = {doc["_id"]: doc for doc in await db.list_all(ITEMS)}
        assert listed.keys() == saved.keys()
        for doc_id, doc in saved.items():
            assert_same_json(listed[doc_id], doc)

    async def test_collections_are_isolated(self, db: DocumentService) -> None:
        await db.save(ITEMS, "same", {"where": "items"})
        await db.save(OTHERS, "same", {"where": "others"})
        assert (await db.get(ITEMS, "same"))["where"] == "items"
        assert (await db.get(OTHERS, "same"))["where"] == "others"
        await db.delete(OTHERS, "same")
        assert (await db.get(ITEMS, "same"))["where"] == "items"
        assert [d["_id"] for d in await db.list_all(OTHERS)] == []

    async def test_prefixes_are_isolated(self, db: DocumentService, harness: Harness) -> None:
        other, _ = await harness.new_service()
        await db.save(ITEMS, "same", {"env": "one"})
        await other.save(ITEMS, "same", {"env": "two"})
        assert (await db.get(ITEMS, "same"))["env"] == "one"
        assert (await other.get(ITEMS, "same"))["env"] == "two"
        assert len(await other.list_all(ITEMS)) == 1
        await other.drop_collection(ITEMS)
        assert (await db.get(ITEMS, "same"))["env"] == "one"

    async def test_drop_collection_removes_everything_and_missing_is_silent(
        self, db: DocumentService
    ) -> None:
        await db.drop_collection(ITEMS)
        for i in range(5):
            await db.save(ITEMS, f"d{i}", {"i": i})
        await db.save(OTHERS, "keep", {"k": 1})
        await db.drop_collection(ITEMS)
        assert await db.list_all(ITEMS) == []
        assert (await db.get(OTHERS, "keep"))["k"] == 1
        await db.save(ITEMS, "again", {"v": 1})
        assert [d["_id"] for d in await db.list_all(ITEMS)] == ["again"]

    #: Whether the driver implements the optional ``list_collections``.
    supports_list_collections: ClassVar[bool] = True

    async def test_list_collections_shows_only_this_prefix(
        self, db: DocumentService, harness: Harness
    ) -> None:
        if not self.supports_list_collections:
            with pytest.raises(BackendError, match="cannot list its collections"):
                await db.list_collections()
            return
        assert await db.list_collections() == []
        other, _ = await harness.new_service()
        await other.save("elsewhere", "x", {"v": 1})
        await db.save(OTHERS, "b", {"v": 1})
        await db.save(ITEMS, "a", {"v": 1})
        assert await db.list_collections() == sorted([ITEMS, OTHERS])
        await db.drop_collection(OTHERS)
        assert await db.list_collections() == [ITEMS]
        assert await other.list_collections() == ["elsewhere"]

    async def test_ping(self, db: DocumentService) -> None:
        await db.ping()

    async def test_input_and_output_are_copies(self, db: DocumentService) -> None:
        body: dict[str, Any] = {"nested": {"list": [1, 2]}, "tags": ["a"]}
        saved = await db.save(ITEMS, "a1", body)
        body["nested"]["list"].append(3)
        body["tags"].clear()
        saved["nested"]["list"].append(4)
        saved["extra"] = True
        got = await db.get(ITEMS, "a1")
        assert_same_json(
            got, {"_id": "a1", "_rev": got["_rev"], "nested": {"list": [1, 2]}, "tags": ["a"]}
        )
        got["nested"]["list"].clear()
        listed = await db.list_all(ITEMS)
        assert listed[0]["nested"]["list"] == [1, 2]
        listed[0]["tags"].append("x")
        assert (await db.get(ITEMS, "a1"))["tags"] == ["a"]

    async def test_types_round_trip_exactly(self, db: DocumentService) -> None:
        body = {
            "int": 1,
            "float": 1.0,
            "neg_float": -2.5,
            "zero_float": 0.0,
            "negative_zero": -0.0,
            "small": 1e-130,
            "big": 9.99e125,
            "tenth": 0.1,
            "max_int": 2**63 - 1,
            "min_int": -(2**63),
            "true": True,
            "false": False,
            "none": None,
            "empty_string": "",
            "empty_map": {},
            "empty_list": [],
            "nested_lists": [[1, [2.0, [True, None]]], [], [[]]],
            "mixed": [1, 1.0, "1", True, None, {"a": [1.5]}],
            "deep": {"a": {"b": {"c": {"d": {"e": [{"f": "g"}]}}}}},
            "nul": "a\x00b",
            "newline": "line\nbreak",
        }
        saved = await db.save(ITEMS, "types", body)
        expected = {"_id": "types", "_rev": saved["_rev"], **body, "negative_zero": 0.0}
        assert math.copysign(1.0, saved["negative_zero"]) == 1.0
        assert_same_json(saved, expected)
        assert_same_json(await db.get(ITEMS, "types"), expected)
        assert_same_json((await db.list_all(ITEMS))[0], expected)
        assert_same_json((await db.get_many(ITEMS, ["types"]))["types"], expected)

    async def test_unicode_round_trips(self, db: DocumentService) -> None:
        body = {
            "ünïcödé": "日本語 テキスト",
            "emoji": "🎉🧪 \u200d zero-width joiner",
            "rtl": "עברית العربية",
            "combining": "e\u0301",
            "astral": "\U0001f600" * 10,
        }
        saved = await db.save(ITEMS, "ü-1", body)
        assert_same_json(await db.get(ITEMS, "ü-1"), saved)

    async def test_odd_keys_are_stored_literally(self, db: DocumentService) -> None:
        body = {f"k{key}": {key: index} for index, key in enumerate(ODD_VALID_KEYS)}
        saved = await db.save(ITEMS, "keys", body)
        assert_same_json(await db.get(ITEMS, "keys"), saved)
        assert_same_json(saved, {"_id": "keys", "_rev": saved["_rev"], **body})

    @pytest.mark.parametrize("doc_id", ODD_VALID_IDS)
    async def test_odd_but_valid_ids_round_trip(self, db: DocumentService, doc_id: str) -> None:
        saved = await db.save(ITEMS, doc_id, {"id": doc_id})
        assert saved["_id"] == doc_id
        got = await db.get(ITEMS, doc_id)
        assert got["_id"] == doc_id and got["id"] == doc_id
        assert [d["_id"] for d in await db.list_all(ITEMS)] == [doc_id]
        assert (await db.get_many(ITEMS, [doc_id]))[doc_id] == got
        assert [d["_id"] for d in await db.find(ITEMS, {"id": doc_id})] == [doc_id]
        assert await db.delete(ITEMS, doc_id, rev=got["_rev"]) is True
        assert await db.list_all(ITEMS) == []

    async def test_common_python_values_are_converted(self, db: DocumentService) -> None:
        when = dt.datetime(2026, 1, 2, 3, 4, 5, 6000, tzinfo=dt.timezone(dt.timedelta(hours=2)))
        ident = uuid.UUID("12345678-1234-5678-1234-567812345678")
        body = {
            "aware": when,
            "naive": dt.datetime(2026, 1, 2, 3, 4, 5),
            "date": dt.date(2026, 1, 2),
            "uuid": ident,
            "decimal_int": Decimal("42"),
            "decimal_frac": Decimal("12.5"),
            "enum": _Colour.RED,
            "model": _Model(name="m", when=when, tags=["x"]),
            "tuple": (1, "two"),
        }
        saved = await db.save(ITEMS, "conv", body)
        expected = {
            "_id": "conv",
            "_rev": saved["_rev"],
            "aware": "2026-01-02T01:04:05.006000+00:00",
            "naive": "2026-01-02T03:04:05",
            "date": "2026-01-02",
            "uuid": str(ident),
            "decimal_int": 42,
            "decimal_frac": 12.5,
            "enum": "red",
            "model": {"name": "m", "when": "2026-01-02T03:04:05.006000+02:00", "tags": ["x"]},
            "tuple": [1, "two"],
        }
        assert_same_json(saved, expected)
        assert_same_json(await db.get(ITEMS, "conv"), expected)

    async def test_a_pydantic_model_is_a_document(self, db: DocumentService) -> None:
        when = dt.datetime(2026, 5, 6, tzinfo=dt.UTC)
        saved = await db.save(ITEMS, "model", _Model(name="n", when=when))
        assert_same_json(
            await db.get(ITEMS, "model"),
            {
                "_id": "model",
                "_rev": saved["_rev"],
                "name": "n",
                "when": "2026-05-06T00:00:00Z",
                "tags": [],
            },
        )
