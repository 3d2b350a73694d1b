"""How the CouchDB driver stores what the contract lets through (issue 11): ids CouchDB
reserves or cannot put in a URL, the keys and depths of the contract, the number marker
that must only describe the values it was written for, and the native size limit."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest

from asyncdb._documents import MAX_DEPTH
from asyncdb._service import DatabaseService
from asyncdb.drivers.couchdb import CouchDBDriver
from asyncdb.drivers.couchdb._codec import MARKER, decode_body, encode_body, stamp
from asyncdb.drivers.couchdb._core import DEFAULT_MAX_DOCUMENT_SIZE
from asyncdb.drivers.couchdb._ids import DIGEST, ESCAPE, decode, encode
from asyncdb.errors import NotFoundError
from asyncdb.testing import assert_same_json
from tests.couchdb._proxy import FaultProxy
from tests.couchdb.conftest import RawRequest

RESERVED = ["_abc", "_design/x", "_local/y", "_all_docs", "_users", "_", "__init__"]
OWN_ESCAPE = [ESCAPE, ESCAPE + "x", ESCAPE + "_y", ESCAPE + "#" + "0" * 64]
NATIVE = ["files:apache/tomcat", "user_google_1", "~", "a__", "x~asyncdb~", "../x", ".", ".."]
LONG_URL = "https://example.com/" + "/".join(f"segment{i}?q=%20&x=ü" for i in range(60))
WIDE = "é" * 2048  # 4,096 UTF-8 bytes, 12,288 characters percent-encoded
EMOJI = "😀" * 1024


def _digest(doc_id: str) -> str:
    return DIGEST + hashlib.sha256(doc_id.encode()).hexdigest()


def _segment(key: str) -> str:
    return quote(key, safe="")


# -- the mapping itself ------------------------------------------------------------------------
@pytest.mark.parametrize("doc_id", RESERVED + OWN_ESCAPE + NATIVE + [LONG_URL, WIDE, EMOJI])
def test_every_id_maps_reversibly_and_never_to_a_reserved_key(doc_id: str) -> None:
    key = encode(doc_id)
    assert not key.startswith("_")
    decoded = decode(key)
    assert decoded is not None
    assert decoded.id == doc_id or (decoded.digest and key == _digest(doc_id))


def test_natively_valid_ids_map_to_themselves_and_the_rest_is_escaped() -> None:
    for doc_id in [*NATIVE, LONG_URL, "a" * 4096]:
        assert encode(doc_id) == doc_id
    for doc_id in RESERVED + OWN_ESCAPE:
        assert encode(doc_id) == ESCAPE + doc_id
    assert encode(WIDE) == _digest(WIDE) and encode(EMOJI) == _digest(EMOJI)
    assert decode("_design/asyncdb-x") is None  # design documents are nobody's ids
    assert decode(ESCAPE + "foreign") is None  # not a key asyncdb writes


# -- ids through the service ------------------------------------------------------------------
async def test_reserved_and_escape_like_ids_round_trip_and_reach_no_reserved_document(
    make_db: Callable[..., DatabaseService], raw_couch: RawRequest, prefix: str
) -> None:
    db = make_db()
    ids = RESERVED + OWN_ESCAPE
    for doc_id in ids:
        saved = await db.save("items", doc_id, {"id": doc_id})
        assert saved["_id"] == doc_id and (await db.get("items", doc_id)) == saved
        await db.save("items", doc_id, {**saved, "v": 2})  # conditional, on the escaped key
    assert sorted(d["_id"] for d in await db.list_all("items")) == sorted(ids)
    assert sorted(k for k, v in (await db.get_many("items", ids)).items() if v) == sorted(ids)
    for path in ("_design/x", "_local/y"):
        status, _ = await raw_couch("GET", f"/{prefix}items/{path}")
        assert status == 404, path
    status, stored = await raw_couch(
        "GET", f"/{prefix}items/{quote(ESCAPE + '_design/x', safe='')}"
    )
    assert status == 200 and stored["id"] == "_design/x"
    result = await db.delete_many("items", ids)
    assert all(outcome.ok for outcome in result.outcomes)
    assert await db.list_all("items") == []


async def test_native_ids_are_stored_under_themselves(
    make_db: Callable[..., DatabaseService], raw_couch: RawRequest, prefix: str
) -> None:
    db = make_db()
    for doc_id in [*NATIVE, LONG_URL, "a" * 4096]:
        await db.save("items", doc_id, {"v": 1})
        status, stored = await raw_couch("GET", f"/{prefix}items/{_segment(doc_id)}")
        assert status == 200 and stored["_id"] == doc_id and MARKER not in stored


async def test_ids_too_long_for_a_url_live_under_a_digest_key(
    make_db: Callable[..., DatabaseService], raw_couch: RawRequest, prefix: str
) -> None:
    db = make_db(find_page_size=2)
    for doc_id in (WIDE, EMOJI, "_" + "ü" * 2000):
        saved = await db.save("items", doc_id, {"v": 1, "f": 1.0})
        assert saved["_id"] == doc_id
        status, stored = await raw_couch("GET", f"/{prefix}items/{_segment(_digest(doc_id))}")
        assert status == 200 and stored[MARKER]["id"] == doc_id
        updated = await db.update("items", doc_id, lambda doc: {**(doc or {}), "v": 2})
        assert updated["v"] == 2 and type(updated["f"]) is float
    assert sorted(d["_id"] for d in await db.list_all("items")) == sorted(
        (WIDE, EMOJI, "_" + "ü" * 2000)
    )
    assert sorted(d["_id"] for d in await db.find("items", {"v": 2})) == sorted(
        (WIDE, EMOJI, "_" + "ü" * 2000)
    )
    fetched = (await db.get_many("items", [WIDE]))[WIDE]
    assert fetched is not None and fetched["v"] == 2
    assert await db.delete("items", WIDE) is True
    with pytest.raises(NotFoundError):
        await db.get("items", WIDE)


async def test_a_digest_document_holding_another_id_is_nobodys(
    make_db: Callable[..., DatabaseService], raw_couch: RawRequest, prefix: str
) -> None:
    db = make_db()
    await db.save("items", WIDE, {"v": 1})
    await db.save("items", "plain", {"v": 1})
    path = f"/{prefix}items/{_segment(_digest(WIDE))}"
    _, stored = await raw_couch("GET", path)
    stored[MARKER]["id"] = EMOJI  # as if another id had the same digest
    await raw_couch("PUT", path, stored)
    with pytest.raises(NotFoundError):
        await db.get("items", WIDE)
    with pytest.raises(NotFoundError):
        await db.get("items", EMOJI)
    assert [d["_id"] for d in await db.list_all("items")] == ["plain"]


async def test_paging_over_escaped_digest_and_plain_ids_is_complete_and_stable(
    make_db: Callable[..., DatabaseService], raw_couch: RawRequest, prefix: str
) -> None:
    db = make_db(find_page_size=3)
    ids = [f"_s{i}" for i in range(15)] + [f"p{i}" for i in range(15)]
    ids += [f"{ESCAPE}{i}" for i in range(5)] + [f"{'ü' * 1500}{i}" for i in range(4)]
    await db.save_many("items", [{"_id": doc_id, "k": 1} for doc_id in ids])
    # Rows asyncdb cannot have written sit between them and must be skipped, not stop a page.
    await db.save("items", "warm", {})
    for n in range(9):
        await raw_couch("PUT", f"/{prefix}items/{quote(ESCAPE, safe='')}foreign{n}", {"k": 1})
    seen: list[str] = []
    cursor = None
    while True:
        page = await db.list_page("items", limit=4, cursor=cursor)
        seen += [doc["_id"] for doc in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert sorted(seen) == sorted([*ids, "warm"]) and len(seen) == len(ids) + 1
    found = [doc["_id"] for doc in await db.find("items", {"k": 1})]
    assert sorted(found) == sorted(ids) and len(found) == len(ids)


# -- keys and depth -------------------------------------------------------------------------------
def _deep(depth: int) -> Any:
    value: Any = "leaf"
    for level in range(depth):
        value = [value] if level % 2 else {"k": value, "": level, "__init__": float(level)}
    return value


async def test_empty_dunder_marker_like_keys_and_the_deepest_documents_round_trip(
    make_db: Callable[..., DatabaseService],
) -> None:
    db = make_db()
    body: dict[str, Any] = {
        "": 1,
        "modules": {"": {"__init__": 2.0, "": [{"": 2**60}]}, "__init__": {"__x__": 1}},
        "~asyncdb": {"f": [["x"]]},
        "~~asyncdb": 1.0,
        "~~~asyncdb": "x",
        "nested": {"_private": 1, "~asyncdb": 3.0},
        "deep": _deep(MAX_DEPTH - 1),
    }
    saved = await db.save("items", "keys", body)
    got = await db.get("items", "keys")
    assert got == saved
    del got["_id"], got["_rev"]
    assert_same_json(got, body)


# -- the number marker applies only to the values it was written for ----------------------------
async def test_another_programs_update_keeping_the_marker_is_read_as_plain_json(
    make_db: Callable[..., DatabaseService], raw_couch: RawRequest, prefix: str
) -> None:
    db = make_db()
    await db.save("items", "a", {"n": 1.0, "big": 2**60, "keep": 3.0})
    path = f"/{prefix}items/a"
    _, stored = await raw_couch("GET", path)
    assert stored[MARKER]["g"] == 1
    # The original service's update: {**existing, ...}, marker and all.
    await raw_couch("PUT", path, {**stored, "n": 2})
    got = await db.get("items", "a")
    assert got["n"] == 2 and type(got["n"]) is int
    assert got["big"] == str(2**60)  # what is stored now is another program's string
    assert got["keep"] == 3  # a float on CouchDB, an int on pouchdb-server: plain JSON
    # asyncdb's next write marks the values afresh.
    saved = await db.save("items", "a", {**got, "n": 2.0, "big": 2**60})
    assert type(saved["n"]) is float and (await db.get("items", "a")) == saved
    _, stored = await raw_couch("GET", path)
    assert stored[MARKER]["g"] == int(saved["_rev"].split("-")[0])


def test_marker_rules_without_a_server() -> None:
    payload = encode_body({"n": 1.0, "big": 2**60})
    stamp(payload, "4-abc")
    assert payload[MARKER]["g"] == 5
    as_pouchdb = {**payload, "n": 1, "_rev": "5-def"}  # pouchdb gives 1.0 back as 1
    assert decode_body(dict(as_pouchdb)) == {"n": 1.0, "big": 2**60}
    edited = {**payload, "n": 2, "_rev": "5-other"}  # same generation, another value
    assert type(decode_body(dict(edited))["n"]) is int
    later = {**payload, "_rev": "6-xyz"}
    assert decode_body(dict(later)) == {"n": 1, "big": str(2**60)}
    legacy = {"n": 1, "big": str(2**60), MARKER: {"f": [["n"]], "i": [["big"]]}, "_rev": "9-a"}
    assert decode_body(dict(legacy)) == {"n": 1, "big": 2**60}  # no generation: ints only
    odd = {"n": 1, MARKER: {"g": 1, "h": "x", "f": "nonsense", "i": [[{"k": 1}]]}, "_rev": "1-a"}
    assert decode_body(dict(odd)) == {"n": 1}


# -- DATABASE_SIZE_LIMIT=native -------------------------------------------------------------
async def test_the_native_limit_is_the_servers_max_document_size(
    proxy: FaultProxy, couchdb_url: str
) -> None:
    driver = CouchDBDriver(proxy.url)
    proxy.canned["/_node/_local/_config/couchdb/max_document_size"] = (200, "1234567")
    await driver.open()
    assert driver.limits.native_document_bytes == 1_234_567
    assert type(driver).limits.native_document_bytes == DEFAULT_MAX_DOCUMENT_SIZE
    proxy.canned["/_node/_local/_config/couchdb/max_document_size"] = (401, {"error": "x"})
    await driver.open()
    assert driver.limits.native_document_bytes == DEFAULT_MAX_DOCUMENT_SIZE
    body = {"text": "ü" * 1000, "n": 1.0}
    size = driver.native_document_size("doc", body)
    assert size >= len('{"_id":"doc","text":""}') + 2000 + len('"n":1.0')
    await driver.aclose()


async def test_a_document_at_the_native_limit_is_stored(
    make_db: Callable[..., DatabaseService],
) -> None:
    db = make_db(size_limit="native")
    driver = db.driver
    await driver.open()
    limit = driver.limits.native_document_bytes
    assert limit is not None and limit >= 1_000_000
    body = {"blob": "x" * 1_000_000}
    assert driver.native_document_size("big", body) <= limit
    saved = await db.save("items", "big", body)
    assert (await db.get("items", "big")) == saved


async def test_marks_fit_a_document_made_again_over_a_tombstone(
    make_db: Callable[..., DatabaseService], raw_couch: RawRequest, prefix: str
) -> None:
    # CouchDB continues a deleted document's revision numbers when it is made again.
    body: dict[str, Any] = {"f": 1.0, "big": 2**60}
    first = make_db()
    for doc_id in ("one", "many", "known"):
        for _ in range(2):
            await first.save("items", doc_id, {"v": 1})
        await first.delete("items", doc_id)
    assert (await first.save("items", "known", body))["_rev"].startswith("4-")
    fresh = make_db()  # has not seen the tombstones: its marks are corrected
    saved = await fresh.save("items", "one", body)
    result = await fresh.save_many("items", [{"_id": "many", **body}])
    for doc_id, rev in (("one", saved["_rev"]), ("many", result.outcomes[0].rev)):
        got = await make_db().get("items", doc_id)
        assert got["_rev"] == rev and type(got["f"]) is float and got["big"] == 2**60, doc_id
    got = await make_db().get("items", "known")
    assert type(got["f"]) is float and got["big"] == 2**60
