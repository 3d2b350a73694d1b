"""Documents the original service wrote, through Google's own client: ``"_rev": None``
and ``_id`` stored as fields, its ids as they were (natively valid, odd ones included),
its ints and floats as the Python client encodes them (integer and double values).

asyncdb's own ``_id`` (the document id) and ``_rev`` (the update time) always win over
such stored fields, so a conditional write on these documents stays conditional.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from typing import Any

import pytest
from google.cloud import firestore

from asyncdb._service import DatabaseService
from asyncdb.drivers.firestore import FirestoreDriver
from asyncdb.errors import ConflictError
from asyncdb.testing import assert_same_json
from tests.backends.firestore import TEST_PROJECT

IDS = [
    "user_google_123",
    "files:apache~tomcat",
    "u1:files:aHR0cHM6Ly9leGFtcGxlLmNvbS8_cT0x",
    "_Xb3kQ9s",  # secrets.token_urlsafe() starts with "_" one time in 64
    "c0ffee00-1234-4abc-8def-0123456789ab",
]


def original(doc_id: str, n: int) -> dict[str, Any]:
    """A document as the original service's pydantic models dumped it."""
    return {
        "_id": doc_id,
        "_rev": None,
        "name": f"doc {n}",
        "accessCount": n,
        "usage_info": {"monthly_allowance": 10.0, "spend_remaining": 9.25, "usage": []},
        "created_at": "2024-05-06T07:08:09.123456+00:00",
        "tags": ["a", "b"],
    }


def body_of(doc_id: str, n: int) -> dict[str, Any]:
    fields = original(doc_id, n)
    del fields["_id"], fields["_rev"]
    return fields


@pytest.fixture
def collection() -> str:
    return f"t{secrets.token_hex(5)}_users"


@pytest.fixture
def raw(firestore_host: str, monkeypatch: pytest.MonkeyPatch) -> firestore.AsyncClient:
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", firestore_host)
    return firestore.AsyncClient(project=TEST_PROJECT)


@pytest.fixture
async def db(
    firestore_host: str, collection: str, raw: firestore.AsyncClient
) -> AsyncIterator[DatabaseService]:
    for n, doc_id in enumerate(IDS):
        await raw.collection(collection).document(doc_id).set(original(doc_id, n))
    driver = FirestoreDriver(project=TEST_PROJECT, emulator_host=firestore_host)
    async with DatabaseService(driver) as service:
        yield service
        await service.drop_collection(collection)


async def update_time(raw: firestore.AsyncClient, collection: str, doc_id: str) -> str:
    snapshot = await raw.collection(collection).document(doc_id).get()
    moment = snapshot.update_time
    assert moment is not None
    return f"{moment.strftime('%Y-%m-%dT%H:%M:%S')}.{moment.nanosecond:09d}Z"


async def test_get_reports_asyncdbs_id_and_revision_and_the_data_exactly(
    db: DatabaseService, collection: str, raw: firestore.AsyncClient
) -> None:
    for n, doc_id in enumerate(IDS):
        doc = await db.get(collection, doc_id)
        assert doc["_id"] == doc_id
        assert doc["_rev"] == await update_time(raw, collection, doc_id)
        assert_same_json(doc, {"_id": doc_id, "_rev": doc["_rev"], **body_of(doc_id, n)})
        assert type(doc["accessCount"]) is int
        assert type(doc["usage_info"]["monthly_allowance"]) is float


async def test_listing_paging_get_many_and_find_see_them_with_real_revisions(
    db: DatabaseService, collection: str
) -> None:
    expected = {doc_id: await db.get(collection, doc_id) for doc_id in IDS}
    listed = await db.list_all(collection)
    assert {doc["_id"]: doc for doc in listed} == expected
    paged: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = await db.list_page(collection, limit=2, cursor=cursor)
        paged.extend(page.items)
        if (cursor := page.next_cursor) is None:
            break
    assert {doc["_id"]: doc for doc in paged} == expected
    assert await db.get_many(collection, IDS) == expected
    assert await db.find(collection, {"accessCount": 3}) == [expected[IDS[3]]]
    assert await db.find(collection, {"name": "doc 1"}, fields=["name"]) == [
        {"_id": IDS[1], "_rev": expected[IDS[1]]["_rev"], "name": "doc 1"}
    ]


async def test_a_stale_write_on_a_foreign_document_is_refused(
    db: DatabaseService, collection: str, raw: firestore.AsyncClient
) -> None:
    doc_id = "user_google_123"
    seen = await db.get(collection, doc_id)
    # The original service writes again (``{**existing, ...}``, ``_rev`` still null).
    await raw.collection(collection).document(doc_id).set({**original(doc_id, 0), "name": "x"})
    with pytest.raises(ConflictError):
        await db.save(collection, doc_id, {**seen, "name": "stale"})
    with pytest.raises(ConflictError):
        await db.delete(collection, doc_id, rev=seen["_rev"])
    current = await db.get(collection, doc_id)
    assert current["name"] == "x"
    saved = await db.save(collection, doc_id, {**current, "name": "fresh"})
    assert saved["_rev"] != current["_rev"]
    # asyncdb's write replaces the document: the stored _id / _rev fields are gone.
    stored = (await raw.collection(collection).document(doc_id).get()).to_dict()
    assert stored is not None and "_rev" not in stored and "_id" not in stored
    assert stored["name"] == "fresh"


async def test_update_and_create_on_foreign_documents(db: DatabaseService, collection: str) -> None:
    doc_id = "files:apache~tomcat"
    updated = await db.update(
        collection, doc_id, lambda d: {**d, "accessCount": d["accessCount"] + 1}
    )
    assert updated["accessCount"] == 2 and isinstance(updated["_rev"], str)
    assert (await db.get(collection, doc_id))["accessCount"] == 2
    with pytest.raises(ConflictError):
        await db.create(collection, "_Xb3kQ9s", {"v": 1})


async def test_stored_id_and_rev_fields_of_any_value_never_override_asyncdbs(
    db: DatabaseService, collection: str, raw: firestore.AsyncClient
) -> None:
    await (
        raw.collection(collection)
        .document("odd")
        .set({"_id": "someone-else", "_rev": "1-abc", "_created_by": "console", "v": 1})
    )
    doc = await db.get(collection, "odd")
    assert doc["_id"] == "odd"
    assert doc["_rev"] == await update_time(raw, collection, "odd")
    # Other top-level "_x" fields are another program's data: they read back as data.
    assert_same_json(doc, {"_id": "odd", "_rev": doc["_rev"], "_created_by": "console", "v": 1})
    with pytest.raises(ConflictError):
        await db.save(collection, "odd", {"v": 2, "_rev": "1-abc"})
