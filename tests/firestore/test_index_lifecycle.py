"""What ``ensure_index`` does to the documents already there on Firestore: the backfill
writes only the key, and a document keeps its revision through it (until its body
changes); the registry survives damage by another program."""

from __future__ import annotations

import json

import pytest
from google.cloud import firestore

from asyncdb._service import DatabaseService
from asyncdb.drivers._keyplan import KeyLayout
from asyncdb.drivers.firestore._registry import REGISTRY_COLLECTION
from asyncdb.errors import ConflictError
from asyncdb.testing._suite.ordering import expected
from tests.backends.firestore import TEST_PROJECT


async def test_documents_saved_before_the_index_are_backfilled_and_read_back_identical(
    db: DatabaseService, name: str
) -> None:
    collection = f"{name}_tickets"
    docs = [{"_id": f"b{i:02d}", "status": "pending", "created": i % 5} for i in range(20)]
    before = {}
    for doc in docs:
        saved = await db.save(collection, doc["_id"], doc)
        before[doc["_id"]] = saved
    await db.ensure_index(collection, ["status"], order_by=["created"])
    found = await db.find(collection, {"status": "pending"}, order_by=["created"], strict=True)
    assert [d["_id"] for d in found] == expected(docs, {"status": "pending"}, ["created"])
    # The backfill changed neither the body nor the revision a caller holds.
    for doc_id, saved in before.items():
        assert await db.get(collection, doc_id) == saved
    assert sorted(await db.list_all(collection), key=lambda d: d["_id"]) == [
        before[d["_id"]] for d in docs
    ]
    # Writes conditional on the revision from before the index still succeed ...
    updated = await db.save(collection, "b00", {**before["b00"], "created": 99})
    assert updated["_rev"] != before["b00"]["_rev"]
    assert await db.delete(collection, "b01", rev=before["b01"]["_rev"])
    result = await db.save_many(collection, [{**before["b02"], "created": -5}])
    assert result.ok, result.failed
    # ... and a stale one still conflicts.
    with pytest.raises(ConflictError):
        await db.save(collection, "b00", before["b00"])
    found = await db.find(collection, {"status": "pending"}, order_by=["created"], strict=True)
    now = await db.list_all(collection)
    assert [d["_id"] for d in found] == expected(now, {"status": "pending"}, ["created"])


async def test_a_kept_revision_ends_when_another_tool_changes_the_body(
    db: DatabaseService,
    name: str,
    firestore_host: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    collection = f"{name}_tickets"
    before = await db.save(collection, "k", {"status": "pending", "created": 1, "note": "a"})
    await db.ensure_index(collection, ["status"], order_by=["created"])
    assert await db.get(collection, "k") == before  # the backfill kept the revision
    # Another tool changes a field the index does not hold (its key stays right).
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", firestore_host)
    raw = firestore.AsyncClient(project=TEST_PROJECT)
    await raw.collection(collection).document("k").update({"note": "b"})
    changed = await db.get(collection, "k")
    assert changed is not None and changed["note"] == "b"
    assert changed["_rev"] != before["_rev"]
    # The old revision no longer passes: that change is not lost.
    with pytest.raises(ConflictError):
        await db.save(collection, "k", {**before, "note": "c"})
    with pytest.raises(ConflictError):
        await db.delete(collection, "k", rev=before["_rev"])
    outcome = await db.save_many(collection, [{**before, "note": "c"}])
    assert not outcome.ok
    assert (await db.get(collection, "k")) == changed


async def test_a_damaged_registry_entry_is_ignored(
    db: DatabaseService,
    name: str,
    firestore_host: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    collection = f"{name}_items"
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", firestore_host)
    raw = firestore.AsyncClient(project=TEST_PROJECT)
    too_wide = KeyLayout(tuple(((f"f{i}",), False) for i in range(120)))
    await (
        raw.collection(REGISTRY_COLLECTION)
        .document(collection)
        .set(
            {
                "indexes": {
                    "ix_nonsense": {"meta": "{", "state": "ready", "registered": 1},
                    f"ix_{too_wide.digest}": {
                        "meta": json.dumps(too_wide.meta()),
                        "state": "ready",
                        "registered": firestore.SERVER_TIMESTAMP,
                    },
                }
            }
        )
    )
    await db.save(collection, "d", {"f0": 1, "b": 2})
    assert [d["_id"] for d in await db.find(collection, {"f0": 1}, order_by=["b"])] == ["d"]
    await db.ensure_index(collection, ["f0"], order_by=["b"])
    found = await db.find(collection, {"f0": 1}, order_by=["b"], strict=True)
    assert [d["_id"] for d in found] == ["d"]
