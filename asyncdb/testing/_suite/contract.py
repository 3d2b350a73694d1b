"""The document contract on every backend: what is refused (before any I/O, with the same
error everywhere) and what round-trips exactly (property-based)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from asyncdb._documents import MAX_DEPTH, MAX_DOCUMENT_BYTES, MAX_FIELDS
from asyncdb.abc import DocumentService
from asyncdb.errors import (
    DocumentTooLargeError,
    InvalidDocumentError,
    InvalidNameError,
    ServiceClosedError,
    ValidationError,
)
from asyncdb.testing.assertions import assert_same_json
from asyncdb.testing.harness import Harness
from asyncdb.testing.samples import HOSTILE_COLLECTION_NAMES, HOSTILE_DOCUMENT_IDS, INVALID_VALUES
from asyncdb.testing.strategies import document_ids, documents

ITEMS = "items"

Operation = Callable[[DocumentService, Any, Any], Awaitable[Any]]

#: Every operation that takes a collection and an id, as (name, call).
ID_OPERATIONS: list[tuple[str, Operation]] = [
    ("get", lambda db, c, i: db.get(c, i)),
    ("save", lambda db, c, i: db.save(c, i, {"v": 1})),
    ("create", lambda db, c, i: db.create(c, i, {"v": 1})),
    ("update", lambda db, c, i: db.update(c, i, lambda d: d, default={})),
    ("delete", lambda db, c, i: db.delete(c, i)),
    ("get_many", lambda db, c, i: db.get_many(c, [i])),
]

#: Operations that take only a collection.
COLLECTION_OPERATIONS: list[tuple[str, Operation]] = [
    ("list_all", lambda db, c, _: db.list_all(c)),
    ("list_page", lambda db, c, _: db.list_page(c, limit=5)),
    ("iter_all", lambda db, c, _: _drain(db, c)),
    ("find", lambda db, c, _: db.find(c, {"a": 1})),
    ("save_many", lambda db, c, _: db.save_many(c, [{"_id": "x"}])),
    ("delete_many", lambda db, c, _: db.delete_many(c, ["x"])),
    ("ensure_index", lambda db, c, _: db.ensure_index(c, ["a"])),
    ("drop_collection", lambda db, c, _: db.drop_collection(c)),
]


async def _drain(db: DocumentService, collection: str) -> list[Any]:
    return [doc async for doc in db.iter_all(collection)]


def _nested(depth: int) -> Any:
    value: Any = "leaf"
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


class Contract:
    """Names, ids and documents: refused before I/O when invalid, exact when valid."""

    @pytest.mark.parametrize("name", HOSTILE_COLLECTION_NAMES, ids=repr)
    async def test_hostile_collection_names_are_refused_before_io(
        self, db: DocumentService, harness: Harness, name: Any
    ) -> None:
        harness.recorder.calls.clear()
        for label, operation in ID_OPERATIONS + COLLECTION_OPERATIONS:
            with pytest.raises(InvalidNameError):
                await operation(db, name, "fine-id")
            assert harness.recorder.calls == [], label

    @pytest.mark.parametrize("doc_id", HOSTILE_DOCUMENT_IDS, ids=repr)
    async def test_hostile_document_ids_are_refused_before_io(
        self, db: DocumentService, harness: Harness, doc_id: Any
    ) -> None:
        harness.recorder.calls.clear()
        for label, operation in ID_OPERATIONS:
            with pytest.raises(InvalidNameError) as caught:
                await operation(db, ITEMS, doc_id)
            assert caught.value.status_code == 422
            assert harness.recorder.calls == [], label
        result = await db.save_many(ITEMS, [{"_id": doc_id, "v": 1}])
        assert isinstance(result[0].error, InvalidNameError)
        result = await db.delete_many(ITEMS, [doc_id])
        assert isinstance(result[0].error, InvalidNameError)
        assert harness.recorder.calls == []

    @pytest.mark.parametrize(("value", "why"), INVALID_VALUES, ids=[w for _, w in INVALID_VALUES])
    async def test_invalid_values_are_refused_with_their_path(
        self, db: DocumentService, harness: Harness, value: Any, why: str
    ) -> None:
        harness.recorder.calls.clear()
        for doc, path in [
            ({"field": value}, "$.field"),
            ({"a": {"b": [1, value]}}, "$.a.b[1]"),
        ]:
            with pytest.raises(InvalidDocumentError) as caught:
                await db.save(ITEMS, "bad", doc)
            assert caught.value.status_code == 422
            assert caught.value.path.startswith(path), (why, caught.value.path)
        assert harness.recorder.calls == []

    @pytest.mark.parametrize(
        "doc",
        [
            {"_private": 1},
            {"_deleted": True},
            {"_rev": 5},
            {"__init__": 1},
            {"_": 1},
            [1, 2],
            "text",
            None,
            {"deep": _nested(MAX_DEPTH + 1)},
            {"wide": {f"k{i}": i for i in range(MAX_FIELDS + 1)}},
            {"k" * 1501: 1},
        ],
        ids=[
            "underscore",
            "_deleted",
            "rev-int",
            "top-level-dunder",
            "top-level-underscore",
            "list",
            "str",
            "none",
            "deep",
            "too-many-fields",
            "long-key",
        ],
    )
    async def test_invalid_documents_are_refused_before_io(
        self, db: DocumentService, harness: Harness, doc: Any
    ) -> None:
        harness.recorder.calls.clear()
        with pytest.raises(InvalidDocumentError):
            await db.save(ITEMS, "bad", doc)
        assert harness.recorder.calls == []

    async def test_the_deepest_valid_document_round_trips(self, db: DocumentService) -> None:
        lists: Any = [1]
        for _ in range(MAX_DEPTH - 1):
            lists = [lists]
        maps: Any = {"leaf": 1.0}
        for level in range(MAX_DEPTH - 1):
            maps = {("", "__init__", "k")[level % 3]: maps}
        body = {
            "deep": _nested(MAX_DEPTH),
            "lists": lists,
            "maps": maps,
            "mixed": [_nested(MAX_DEPTH - 1), {"": _nested(MAX_DEPTH - 2)}],
            "tag": "deep",
        }
        saved = await db.save(ITEMS, "deep", body)
        assert_same_json(saved, {"_id": "deep", "_rev": saved["_rev"], **body})
        assert_same_json(await db.get(ITEMS, "deep"), saved)
        assert_same_json((await db.list_all(ITEMS))[0], saved)
        assert_same_json((await db.get_many(ITEMS, ["deep"]))["deep"], saved)
        assert_same_json(await db.find(ITEMS, {"tag": "deep"}), [saved])
        # update() reads the deep document back and writes it again: both ways encoded.
        updated = await db.update(ITEMS, "deep", lambda doc: {**doc, "tag": "again"})
        assert updated["_rev"] != saved["_rev"]
        assert_same_json(
            await db.get(ITEMS, "deep"), {**saved, "_rev": updated["_rev"], "tag": "again"}
        )

    async def test_one_level_deeper_than_max_depth_is_refused(
        self, db: DocumentService, harness: Harness
    ) -> None:
        lists: Any = [1]
        for _ in range(MAX_DEPTH):
            lists = [lists]
        maps: Any = {"leaf": 1}
        for _ in range(MAX_DEPTH):
            maps = {"__init__": maps}
        harness.recorder.calls.clear()
        for body in ({"lists": lists}, {"maps": maps}):
            with pytest.raises(InvalidDocumentError, match="nested deeper than"):
                await db.save(ITEMS, "deep", body)
        assert harness.recorder.calls == []

    async def test_empty_and_dunder_keys_round_trip_at_every_depth(
        self, db: DocumentService
    ) -> None:
        body: dict[str, Any] = {
            "": "empty top-level key",
            "mod": {"__init__": {"": {"__x__": [{"__init__": 1, "": "", "__": None}]}}},
            "names": {"__name__": "m", "__doc__": None, "__": 2, "____": 3, "_": 4},
            "list": [{"": [{"": {"": 0.5}}]}],
            "both": {"": 1, "__init__": 2, "x": 3},
            "tag": "k",
        }
        saved = await db.save(ITEMS, "keys", body)
        assert_same_json(saved, {"_id": "keys", "_rev": saved["_rev"], **body})
        assert_same_json(await db.get(ITEMS, "keys"), saved)
        assert_same_json((await db.list_all(ITEMS))[0], saved)
        result = await db.save_many(ITEMS, [{"_id": "keys2", **body}])
        assert result.ok, result.failed
        second = {"_id": "keys2", "_rev": result[0].rev, **body}
        assert_same_json((await db.get_many(ITEMS, ["keys2"]))["keys2"], second)
        found = sorted(await db.find(ITEMS, {"tag": "k"}), key=lambda doc: str(doc["_id"]))
        assert_same_json(found, [saved, second])
        projected = await db.find(ITEMS, {"tag": "k"}, fields=["mod"], limit=1)
        assert_same_json(projected[0]["mod"], body["mod"])

    async def test_too_large_documents_are_refused_before_io(
        self, db: DocumentService, harness: Harness
    ) -> None:
        harness.recorder.calls.clear()
        with pytest.raises(DocumentTooLargeError) as caught:
            await db.save(ITEMS, "big", {"blob": "x" * MAX_DOCUMENT_BYTES})
        assert caught.value.status_code == 413
        with pytest.raises(DocumentTooLargeError):
            await db.save(ITEMS, "big", {"many": list(range(MAX_DOCUMENT_BYTES // 12))})
        assert harness.recorder.calls == []

    async def test_a_document_just_under_the_limit_is_stored(self, db: DocumentService) -> None:
        body = {"blob": "é" * ((MAX_DOCUMENT_BYTES - 200) // 2)}
        saved = await db.save(ITEMS, "big", body)
        got = await db.get(ITEMS, "big")
        assert got["blob"] == body["blob"] and got["_rev"] == saved["_rev"]

    async def test_bad_revision_arguments_are_refused(self, db: DocumentService) -> None:
        with pytest.raises(ValidationError):
            await db.delete(ITEMS, "x", rev="")
        with pytest.raises(ValidationError):
            await db.delete(ITEMS, "x", rev=5)  # type: ignore[arg-type]

    @settings(
        max_examples=40,
        deadline=None,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.differing_executors,
        ],
    )
    @given(doc_id=document_ids, body=documents)
    async def test_valid_documents_round_trip_exactly(
        self, db: DocumentService, doc_id: str, body: dict[str, Any]
    ) -> None:
        saved = await db.save(ITEMS, doc_id, body)
        expected = {"_id": doc_id, "_rev": saved["_rev"], **body}
        assert_same_json(saved, expected)
        assert_same_json(await db.get(ITEMS, doc_id), expected)
        assert await db.delete(ITEMS, doc_id, rev=saved["_rev"]) is True

    @settings(
        max_examples=25,
        deadline=None,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.differing_executors,
        ],
    )
    @given(body=documents, bad=st.sampled_from(INVALID_VALUES), data=st.data())
    async def test_invalid_documents_fail_alike_everywhere(
        self,
        db: DocumentService,
        harness: Harness,
        body: dict[str, Any],
        bad: tuple[Any, str],
        data: st.DataObject,
    ) -> None:
        key = data.draw(st.sampled_from(sorted(body) or ["field"]), label="key")
        poisoned = {**body, key: {"inner": [bad[0]]}}
        harness.recorder.calls.clear()
        with pytest.raises(InvalidDocumentError):
            await db.save(ITEMS, "poisoned", poisoned)
        assert harness.recorder.calls == []


class Lifecycle:
    """A closed service refuses work clearly."""

    async def test_a_closed_service_refuses_calls(self, harness: Harness) -> None:
        service, _ = await harness.new_service()
        await service.save(ITEMS, "a", {"v": 1})
        await service.drop_collection(ITEMS)
        await service.aclose()
        with pytest.raises(ServiceClosedError):
            await service.get(ITEMS, "a")
