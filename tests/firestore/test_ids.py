"""The id mapping (``_ids``): natively valid ids as themselves, the others escaped, the
longest under a digest key; checked on the emulator through Google's own client."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import AsyncIterator

import pytest
from google.cloud import firestore

from asyncdb._documents import MAX_ID_BYTES
from asyncdb._service import DatabaseService
from asyncdb.drivers.firestore import FirestoreDriver
from asyncdb.drivers.firestore._ids import ORIGINAL_ID_FIELD, caller_id, stored_id
from asyncdb.errors import ConflictError, NotFoundError
from tests.backends.firestore import TEST_PROJECT

NATIVE = ["user_google_1", "a:b", "files:apache~tomcat", "__x", "x__", "_leading", "é~", "a.b"]
ESCAPED = {
    "files:apache/tomcat": "~~e~files:apache%2Ftomcat",
    ".": "~~e~.",
    "..": "~~e~..",
    "__init__": "~~e~__init__",
    "____": "~~e~____",
    "~~x": "~~e~~~x",
    "~~e~x": "~~e~~~e~x",
    "%2F/": "~~e~%252F%2F",
    "/": "~~e~%2F",
    "a" * 1501: "~~e~" + "a" * 1501,
}
LONG = ["b" * 1497, "/" * 500, "é" * 2048, "x" * MAX_ID_BYTES]


@pytest.mark.parametrize("doc_id", NATIVE)
def test_a_natively_valid_id_is_stored_as_itself(doc_id: str) -> None:
    assert stored_id(doc_id) == doc_id
    assert caller_id(doc_id, {}) == doc_id


@pytest.mark.parametrize(("doc_id", "key"), ESCAPED.items())
def test_other_ids_are_escaped_reversibly(doc_id: str, key: str) -> None:
    if len(key.encode()) > 1500:
        key = stored_id(doc_id)
        assert key.startswith("~~h~")
    assert stored_id(doc_id) == key
    if not key.startswith("~~h~"):
        assert caller_id(key, {}) == doc_id


@pytest.mark.parametrize("doc_id", LONG)
def test_ids_too_long_even_escaped_get_a_digest_key(doc_id: str) -> None:
    key = stored_id(doc_id)
    if len(doc_id.encode()) <= 1500 and "/" not in doc_id:
        assert key == doc_id
        return
    assert key == "~~h~" + hashlib.sha256(doc_id.encode()).hexdigest()


@pytest.fixture
def collection() -> str:
    return f"t{secrets.token_hex(5)}_items"


@pytest.fixture
async def db(firestore_host: str, collection: str) -> AsyncIterator[DatabaseService]:
    driver = FirestoreDriver(project=TEST_PROJECT, emulator_host=firestore_host)
    async with DatabaseService(driver) as service:
        yield service
        await service.drop_collection(collection)


@pytest.fixture
def raw(firestore_host: str, monkeypatch: pytest.MonkeyPatch) -> firestore.AsyncClient:
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", firestore_host)
    return firestore.AsyncClient(project=TEST_PROJECT)


ALL_IDS = [*NATIVE, *ESCAPED, *LONG, "x" * 1500]


async def test_every_kind_of_id_round_trips_and_is_stored_under_its_key(
    db: DatabaseService, collection: str, raw: firestore.AsyncClient
) -> None:
    for index, doc_id in enumerate(ALL_IDS):
        saved = await db.save(collection, doc_id, {"n": index})
        assert saved["_id"] == doc_id
        assert await db.get(collection, doc_id) == saved
    stored = {doc.id: doc.to_dict() or {} async for doc in raw.collection(collection).stream()}
    assert sorted(stored) == sorted(stored_id(doc_id) for doc_id in ALL_IDS)
    for doc_id in ALL_IDS:
        fields = stored[stored_id(doc_id)]
        if stored_id(doc_id).startswith("~~h~"):
            assert fields[ORIGINAL_ID_FIELD] == doc_id  # kept for listing and the check
        else:
            assert ORIGINAL_ID_FIELD not in fields
    # A slash never reached a sub-collection.
    assert [
        c.id async for c in raw.collection(collection).document("files:apache").collections()
    ] == []


async def test_listing_paging_and_bulk_calls_see_every_id_once(
    db: DatabaseService, collection: str
) -> None:
    result = await db.save_many(collection, [{"_id": i, "n": n} for n, i in enumerate(ALL_IDS)])
    assert result.ok
    assert {doc["_id"] for doc in await db.list_all(collection)} == set(ALL_IDS)
    paged: list[str] = []
    cursor = None
    while True:
        page = await db.list_page(collection, limit=3, cursor=cursor)
        paged.extend(doc["_id"] for doc in page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert sorted(paged) == sorted(ALL_IDS)
    got = await db.get_many(collection, [*ALL_IDS, "missing/one"])
    assert all((got[i] or {}).get("_id") == i for i in ALL_IDS)
    assert got["missing/one"] is None
    found = await db.find(collection, {"n": ALL_IDS.index("/" * 500)})
    assert [doc["_id"] for doc in found] == ["/" * 500]
    deleted = await db.delete_many(collection, ALL_IDS)
    assert deleted.ok
    assert await db.list_all(collection) == []


async def test_conditional_writes_on_escaped_and_digest_ids(
    db: DatabaseService, collection: str
) -> None:
    for doc_id in ["a/b", "é" * 2048]:
        first = await db.create(collection, doc_id, {"v": 1})
        with pytest.raises(ConflictError):
            await db.create(collection, doc_id, {"v": 2})
        second = await db.save(collection, doc_id, {"v": 2, "_rev": first["_rev"]})
        with pytest.raises(ConflictError):
            await db.save(collection, doc_id, {"v": 3, "_rev": first["_rev"]})
        updated = await db.update(collection, doc_id, lambda d: {**d, "v": d["v"] + 1})
        assert updated["v"] == 3 and updated["_rev"] != second["_rev"]
        assert await db.delete(collection, doc_id, rev=updated["_rev"]) is True


async def test_a_digest_key_holding_another_id_is_not_the_document(
    db: DatabaseService, collection: str, raw: firestore.AsyncClient
) -> None:
    doc_id = "d" * 3000
    await db.save(collection, doc_id, {"v": 1})
    # Stand in for a digest collision: the document under this key names another id.
    await (
        raw.collection(collection)
        .document(stored_id(doc_id))
        .update({ORIGINAL_ID_FIELD: "another id"})
    )
    with pytest.raises(NotFoundError):
        await db.get(collection, doc_id)
    assert (await db.get_many(collection, [doc_id]))[doc_id] is None
    assert [doc["_id"] for doc in await db.list_all(collection)] == []


async def test_a_foreign_id_beginning_with_the_escape_sequence_is_left_out_of_listings(
    db: DatabaseService, collection: str, raw: firestore.AsyncClient
) -> None:
    # No caller's id names it (``~~odd`` is stored as ``~~e~~~odd``), so it is not listed;
    # pages around it stay complete.
    await raw.collection(collection).document("~~odd").set({"v": 0})
    await db.save_many(collection, [{"_id": f"~{n}", "v": n} for n in range(4)])
    pages: list[str] = []
    cursor = None
    while True:
        page = await db.list_page(collection, limit=1, cursor=cursor)
        pages.extend(doc["_id"] for doc in page.items)
        if (cursor := page.next_cursor) is None:
            break
    assert sorted(pages) == ["~0", "~1", "~2", "~3"]
    assert await db.find(collection, {"v": 0}) == [await db.get(collection, "~0")]
