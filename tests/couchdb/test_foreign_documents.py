"""Documents another program wrote (issue 11): stored through raw HTTP the way the original
service stored them (plain JSON, no marker, odd but natively valid ids), or written by
asyncdb and then updated by another program that kept the marker. asyncdb reads, lists,
pages, updates and conditionally writes them; nothing odd breaks a listing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest

from asyncdb._service import DatabaseService
from asyncdb.drivers.couchdb._codec import MARKER
from asyncdb.drivers.couchdb._ids import ESCAPE
from asyncdb.errors import ConflictError
from tests.couchdb.conftest import RawRequest

LONG_KEY = "https://github.com/apache/tomcat/blob/main/" + "java/org/apache/catalina/" * 30
ORIGINAL: dict[str, dict[str, Any]] = {
    "files:apache/tomcat": {"namespace": "files", "size": 12, "ratio": 0.5},
    "user_google_1": {"email": "a@example.com", "credits": 100, "usage": [{"n": 1}]},
    f"data:{LONG_KEY}": {"value": "x", "hits": 3},
    "ticket-1": {"turns": [{"role": "user", "text": "hi"}], "score": 2},
}


@pytest.fixture
async def foreign(raw_couch: RawRequest, prefix: str) -> dict[str, str]:
    """The original service's documents, stored with plain PUTs; their revisions."""
    await raw_couch("PUT", f"/{prefix}items")
    revs: dict[str, str] = {}
    for doc_id, body in ORIGINAL.items():
        status, answer = await raw_couch("PUT", f"/{prefix}items/{quote(doc_id, safe='')}", body)
        assert status == 201, answer
        revs[doc_id] = answer["rev"]
    return revs


async def test_foreign_documents_read_list_and_page_as_stored(
    make_db: Callable[..., DatabaseService], foreign: dict[str, str]
) -> None:
    db = make_db()
    for doc_id, body in ORIGINAL.items():
        assert await db.get("items", doc_id) == {"_id": doc_id, "_rev": foreign[doc_id], **body}
    listed = {doc["_id"]: doc for doc in await db.list_all("items")}
    assert set(listed) == set(ORIGINAL)
    seen: list[str] = []
    cursor = None
    while True:
        page = await db.list_page("items", limit=1, cursor=cursor)
        seen += [doc["_id"] for doc in page.items]
        if (cursor := page.next_cursor) is None:
            break
    assert sorted(seen) == sorted(ORIGINAL)
    assert [d["_id"] for d in await db.find("items", {"hits": 3})] == [f"data:{LONG_KEY}"]
    got = await db.get_many("items", [*ORIGINAL, "missing"])
    assert got["missing"] is None and all(got[doc_id] for doc_id in ORIGINAL)


async def test_foreign_documents_update_and_conditional_writes(
    make_db: Callable[..., DatabaseService],
    foreign: dict[str, str],
    raw_couch: RawRequest,
    prefix: str,
) -> None:
    db = make_db()
    doc_id = "user_google_1"
    updated = await db.update("items", doc_id, lambda d: {**(d or {}), "credits": 99})
    assert updated["credits"] == 99 and updated["email"] == "a@example.com"
    with pytest.raises(ConflictError):  # the revision the original service had is stale
        await db.save("items", doc_id, {"_rev": foreign[doc_id], "credits": 1})
    # A fresh service (nothing seen yet) with the current revision: written.
    other = make_db()
    saved = await other.save("items", doc_id, {**updated, "credits": 98})
    assert saved["credits"] == 98
    # What asyncdb stored is still plain JSON for the original service.
    _, stored = await raw_couch("GET", f"/{prefix}items/{doc_id}")
    assert {k: v for k, v in stored.items() if k[:1] != "_"} == {
        "email": "a@example.com",
        "credits": 98,
        "usage": [{"n": 1}],
    }
    result = await db.save_many("items", [{"_id": "ticket-1", "_rev": foreign["ticket-1"]}])
    assert result.outcomes[0].ok  # nobody changed it since the original service wrote it


async def test_an_update_by_another_program_keeping_the_marker_reads_as_it_wrote(
    make_db: Callable[..., DatabaseService], raw_couch: RawRequest, prefix: str
) -> None:
    db = make_db()
    mine = await db.save("items", "agent", {"version": 1.0, "count": 1, "big": 2**62})
    path = f"/{prefix}items/agent"
    _, stored = await raw_couch("GET", path)
    status, _ = await raw_couch("PUT", path, {**stored, "version": 2, "count": 2})
    assert status == 201
    got = await db.get("items", "agent")
    assert type(got["version"]) is int and got["version"] == 2 and got["count"] == 2
    with pytest.raises(ConflictError):
        await db.save("items", "agent", {**mine, "version": 3.0})
    saved = await db.save("items", "agent", {**got, "version": 3.0})
    assert type((await db.get("items", "agent"))["version"]) is float
    assert saved["version"] == 3.0


async def test_odd_documents_never_break_a_listing(
    make_db: Callable[..., DatabaseService], raw_couch: RawRequest, prefix: str
) -> None:
    db = make_db()
    await db.save("items", "fine", {"v": 1})
    odd: dict[str, Any] = {
        f"{ESCAPE}not-ours": {"v": 1},  # starts with the escape, not written by asyncdb
        f"{ESCAPE}#{'0' * 64}": {"v": 1},  # a digest key without the id it stands for
        "bad-marker": {"v": 1, MARKER: "not a marker"},
        "bad-paths": {"v": 1, MARKER: {"g": 1, "h": "0", "f": [[1, 2, {"x": 1}]], "i": 7}},
        "legacy": {"v": 1, "big": str(2**60), MARKER: {"f": [["v"]], "i": [["big"], "x"]}},
    }
    for doc_id, body in odd.items():
        status, answer = await raw_couch("PUT", f"/{prefix}items/{quote(doc_id, safe='')}", body)
        assert status == 201, answer
    status, _ = await raw_couch(
        "PUT", f"/{prefix}items/_design/someone", {"views": {"all": {"map": "function(d){}"}}}
    )
    assert status == 201
    listed = {doc["_id"]: doc for doc in await db.list_all("items")}
    assert set(listed) == {"fine", "bad-marker", "bad-paths", "legacy"}
    assert listed["bad-marker"]["v"] == 1 and listed["bad-paths"]["v"] == 1
    assert listed["legacy"]["big"] == 2**60  # written by an asyncdb before generations
    assert {d["_id"] for d in await db.find("items", {"v": 1})} == set(listed)
