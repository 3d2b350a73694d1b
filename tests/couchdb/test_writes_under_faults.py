"""Writes that the server may misreport or that faults leave open (issue 10): bulk rows
paired by id, CouchDB 3.5's phantom documents from made-up revisions, and
``WriteOutcomeUnknownError`` whenever retries run out after an attempt that may have
been applied. The proxy plays CouchDB 3.5 (``couchdb35``) and rewrites bulk answers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aiohttp
import pytest

from asyncdb._service import DatabaseService
from asyncdb.drivers.couchdb._transport import parse_server_url
from asyncdb.errors import (
    BackendUnavailableError,
    ConflictError,
    NotFoundError,
    WriteOutcomeUnknownError,
)
from tests.couchdb._proxy import FaultProxy, Seen
from tests.couchdb.conftest import RawRequest


def _outcomes(result: Any) -> dict[str, Any]:
    return {o.id: (o.rev if o.ok else type(o.error)) for o in result.outcomes}


# -- _bulk_docs rows are paired by id --------------------------------------------------------
async def test_save_many_pairs_reordered_rows_by_id(
    make_db: Callable[..., DatabaseService], proxy: FaultProxy
) -> None:
    db = make_db()
    stale = await db.save("items", "b", {"v": 1})
    await db.save("items", "b", {"v": 2})
    proxy.bulk_answer = lambda rows: rows[::-1]
    result = await db.save_many(
        "items",
        [{"_id": "a", "v": 1}, {**stale, "v": 3}, {"_id": "c", "v": 1}, {"_id": "d", "v": 1}],
    )
    proxy.bulk_answer = None
    outcomes = _outcomes(result)
    assert outcomes["b"] is ConflictError
    for doc_id in ("a", "c", "d"):
        assert outcomes[doc_id] == (await db.get("items", doc_id))["_rev"]
    assert (await db.get("items", "b"))["v"] == 2


async def test_a_missing_or_doubled_row_is_unknown_and_an_extra_row_is_ignored(
    make_db: Callable[..., DatabaseService], proxy: FaultProxy
) -> None:
    db = make_db()
    await db.save("items", "warm", {})

    def mangle(rows: list[Any]) -> list[Any]:
        kept = [row for row in rows if row.get("id") not in ("gone", "twice")]
        twice = next(row for row in rows if row.get("id") == "twice")
        return [{"id": "stranger", "rev": "1-abc", "ok": True}, *kept, twice, twice]

    proxy.bulk_answer = mangle
    result = await db.save_many("items", [{"_id": i, "v": 1} for i in ("ok", "gone", "twice")])
    proxy.bulk_answer = None
    outcomes = _outcomes(result)
    assert outcomes["gone"] is WriteOutcomeUnknownError
    assert outcomes["twice"] is WriteOutcomeUnknownError
    assert outcomes["ok"] == (await db.get("items", "ok"))["_rev"]
    with pytest.raises(NotFoundError):
        await db.get("items", "stranger")


async def test_delete_many_pairs_rows_by_id(
    make_db: Callable[..., DatabaseService], proxy: FaultProxy
) -> None:
    db = make_db()
    await db.save_many("items", [{"_id": i} for i in ("a", "b", "c")])
    proxy.bulk_answer = lambda rows: [row for row in rows[::-1] if row.get("id") != "b"]
    result = await db.delete_many("items", ["a", "b", "c"])
    proxy.bulk_answer = None
    outcomes = _outcomes(result)
    assert outcomes["b"] is WriteOutcomeUnknownError  # it was deleted, but nobody said so
    assert outcomes["a"] is None and outcomes["c"] is None
    assert await db.list_all("items") == []


# -- phantom documents from made-up revisions (CouchDB 3.x) ----------------------------------
@pytest.fixture
def couchdb35(proxy: FaultProxy) -> FaultProxy:
    proxy.couchdb35 = True
    return proxy


async def test_the_proxy_plays_couchdb_3_5(
    couchdb35: FaultProxy, raw_couch: RawRequest, couchdb_url: str, prefix: str
) -> None:
    # Without the driver: a made-up revision on a never-held id creates the document.
    database = f"{prefix}raw"
    await raw_couch("PUT", f"/{database}")
    address = parse_server_url(couchdb_url, None, None)
    auth = aiohttp.BasicAuth(address.user, address.password or "") if address.user else None
    try:
        async with (
            aiohttp.ClientSession(auth=auth) as session,
            session.put(f"{couchdb35.url}/{database}/never", json={"_rev": "1-abc"}) as reply,
        ):
            answer = await reply.json(content_type=None)
        assert reply.status == 201 and answer["rev"].startswith("2-")
        status, info = await raw_couch("GET", f"/{database}/never?revs_info=true")
        assert status == 200 and {"rev": "1-abc", "status": "missing"} in info["_revs_info"]
    finally:
        await raw_couch("DELETE", f"/{database}")


async def test_a_conditional_save_of_a_missing_id_conflicts_and_creates_nothing(
    make_db: Callable[..., DatabaseService],
    couchdb35: FaultProxy,
    raw_couch: RawRequest,
    prefix: str,
) -> None:
    db = make_db()
    await db.save("items", "other", {"v": 1})  # the database holds a document
    with pytest.raises(ConflictError):
        await db.save("items", "never", {"_rev": "1-abc", "v": 1})
    result = await db.save_many(
        "items", [{"_id": "never2", "_rev": "3-abc", "v": 1}, {"_id": "fresh", "v": 1}]
    )
    assert _outcomes(result)["never2"] is ConflictError and result.outcomes[1].ok
    assert await db.delete("items", "never3", rev="1-abc") is False
    for doc_id in ("never", "never2", "never3"):
        status, _ = await raw_couch("GET", f"/{prefix}items/{doc_id}")
        assert status == 404, doc_id
        _, rows = await raw_couch("GET", f'/{prefix}items/_all_docs?key="{doc_id}"')
        assert rows["rows"] == [], doc_id  # not even a tombstone


async def test_a_revision_from_another_process_still_works_and_seen_ones_cost_nothing(
    make_db: Callable[..., DatabaseService], couchdb35: FaultProxy
) -> None:
    writer, fresh = make_db(), make_db()
    first = await writer.save("items", "a", {"v": 1})
    many = await writer.save_many("items", [{"_id": "b", "v": 1}])
    await fresh.save("items", "warm", {})
    await fresh.save("items", "warm", {})  # learns how to read a revision (HEAD or by key)
    # ``fresh`` has never seen "a": it checks the id first, and the write goes through.
    couchdb35.reset()
    saved = await fresh.save("items", "a", {**first, "v": 2})
    assert len(couchdb35.seen) == 2 and saved["v"] == 2
    result = await fresh.save_many("items", [{"_id": "b", "_rev": many.outcomes[0].rev}])
    assert result.outcomes[0].ok
    # Now it has: one request each.
    couchdb35.reset()
    saved = await fresh.save("items", "a", {**saved, "v": 3})
    latest = await fresh.update("items", "a", lambda doc: {**(doc or {}), "v": 4})
    assert latest["v"] == 4 and len(couchdb35.seen) == 3  # PUT; GET + PUT
    assert await fresh.delete("items", "a", rev=latest["_rev"]) is True


async def test_a_lost_answer_after_the_check_is_still_unknown(
    make_db: Callable[..., DatabaseService], couchdb35: FaultProxy
) -> None:
    writer, fresh = make_db(), make_db(max_retries=2)
    first = await writer.save("items", "a", {"v": 1})
    # The check (a read) goes through, the PUT lands and its answer is lost.
    couchdb35.lose_method = "PUT"
    couchdb35.lose_reply_next(1)
    with pytest.raises(WriteOutcomeUnknownError):
        await fresh.save("items", "a", {**first, "v": 2})
    assert (await writer.get("items", "a"))["v"] == 2


async def test_a_conditional_delete_whose_lost_attempt_was_followed_by_a_re_creation_is_unknown(
    make_db: Callable[..., DatabaseService], proxy: FaultProxy, raw_couch: RawRequest
) -> None:
    db = make_db(max_retries=2)
    first = await db.save("items", "a", {"v": 1})
    deletes: list[Seen] = []

    def note(seen: Seen) -> None:
        if seen.method == "DELETE":
            deletes.append(seen)

    proxy.before = note
    proxy.lose_method = "DELETE"
    proxy.lose_reply_next(1)  # the first DELETE lands, its answer is lost
    recreated: list[int] = []

    async def re_create_before_the_retry(seen: Seen) -> None:
        path = seen.raw_path.partition("?")[0]
        status, _ = await raw_couch("PUT", path, {"v": "someone else"})
        recreated.append(status)

    proxy.after_lose = re_create_before_the_retry
    with pytest.raises(WriteOutcomeUnknownError):
        await db.delete("items", "a", rev=first["_rev"])
    assert recreated == [201]
    assert len(deletes) == 2  # the lost attempt and its retry
    assert (await db.get("items", "a"))["v"] == "someone else"


# -- retries that run out after an ambiguous attempt -----------------------------------------
@pytest.mark.parametrize("status", [500, 502, 504])
async def test_writes_whose_retries_ran_out_after_an_ambiguous_status_are_unknown(
    make_db: Callable[..., DatabaseService], proxy: FaultProxy, status: int
) -> None:
    db = make_db(max_retries=2)
    first = await db.save("items", "a", {"v": 1})
    proxy.fail_next(100, status=status)
    with pytest.raises(WriteOutcomeUnknownError):
        await db.save("items", "a", {"v": 2})
    with pytest.raises(WriteOutcomeUnknownError):
        await db.save("items", "a", {**first, "v": 2})
    with pytest.raises(WriteOutcomeUnknownError):
        await db.delete("items", "a", rev=first["_rev"])
    result = await db.save_many("items", [{"_id": "x"}, {"_id": "y"}])
    assert set(_outcomes(result).values()) == {WriteOutcomeUnknownError}
    with pytest.raises(BackendUnavailableError) as caught:
        await db.get("items", "a")
    assert not isinstance(caught.value, WriteOutcomeUnknownError)  # a read stays a read


async def test_writes_refused_every_time_stay_unavailable(
    make_db: Callable[..., DatabaseService], proxy: FaultProxy
) -> None:
    db = make_db(max_retries=2)
    first = await db.save("items", "a", {"v": 1})
    proxy.fail_next(100, status=503)  # the server says it did not act
    for write in (
        db.save("items", "a", {"v": 2}),
        db.save("items", "a", {**first, "v": 2}),
        db.save_many("items", [{"_id": "x"}]),
    ):
        with pytest.raises(BackendUnavailableError) as caught:
            await write
        assert not isinstance(caught.value, WriteOutcomeUnknownError)


async def test_dropped_connections_until_retries_run_out_leave_a_write_unknown(
    make_db: Callable[..., DatabaseService], proxy: FaultProxy
) -> None:
    db = make_db(max_retries=2)
    first = await db.save("items", "a", {"v": 1})
    proxy.drop_after_lose = 100  # the first attempt lands, every retry is cut off
    proxy.lose_reply_next(1)
    with pytest.raises(WriteOutcomeUnknownError):
        await db.save("items", "a", {**first, "v": 2})
    proxy.drop_next(0)
    assert (await db.get("items", "a"))["v"] == 2


async def test_a_bulk_answer_lost_for_good_leaves_each_document_unknown(
    make_db: Callable[..., DatabaseService], proxy: FaultProxy
) -> None:
    db = make_db(max_retries=1)
    await db.save("items", "old", {"v": 1})
    proxy.lose_reply_next(2)  # both attempts land, neither answer arrives
    result = await db.save_many("items", [{"_id": "new", "v": 1}, {"_id": "old", "v": 2}])
    assert _outcomes(result) == {"new": WriteOutcomeUnknownError, "old": WriteOutcomeUnknownError}
    assert (await db.get("items", "new"))["v"] == 1


async def test_a_checked_bulk_write_whose_answer_was_lost_is_unknown(
    make_db: Callable[..., DatabaseService], couchdb35: FaultProxy
) -> None:
    writer, fresh = make_db(), make_db(max_retries=2)
    old = await writer.save("items", "a", {"v": 1})
    # ``fresh`` checks "a" first (_all_docs); the _bulk_docs lands and its answer is lost.
    couchdb35.lose_path = "/_bulk_docs"
    couchdb35.lose_reply_next(1)
    result = await fresh.save_many("items", [{**old, "v": 2}, {"_id": "b", "_rev": "1-abc"}])
    assert _outcomes(result) == {"a": WriteOutcomeUnknownError, "b": ConflictError}
    assert (await writer.get("items", "a"))["v"] == 2
    with pytest.raises(NotFoundError):
        await writer.get("items", "b")


def _fail_reads_after_a_write(proxy: FaultProxy) -> None:
    """Once the lost answer is behind, every read fails with 503 (the server says it did
    not act): only that lost answer leaves anything open."""

    def before(seen: Seen) -> None:
        path = seen.raw_path.partition("?")[0]
        reading = seen.method in ("HEAD", "GET") or path.endswith("/_all_docs")
        if reading and proxy.lose_remaining == 0:
            proxy.fail_next(100, status=503)

    proxy.before = before


async def test_a_write_whose_lost_answer_is_followed_by_failing_reads_is_unknown(
    make_db: Callable[..., DatabaseService], proxy: FaultProxy
) -> None:
    db = make_db(max_retries=1)
    await db.save("items", "old", {"v": 1})
    # A new document: the PUT lands, its answer is lost, the retry meets it (409), and
    # the revision can then not be read.
    _fail_reads_after_a_write(proxy)
    proxy.lose_reply_next(1)
    with pytest.raises(WriteOutcomeUnknownError):
        await db.save("items", "new", {"v": 1})
    # The same for an unconditional delete, and per document for save_many.
    _fail_reads_after_a_write(proxy)
    proxy.fail_next(0)
    proxy.lose_method = "DELETE"
    proxy.lose_reply_next(1)
    with pytest.raises(WriteOutcomeUnknownError):
        await db.delete("items", "old")
    _fail_reads_after_a_write(proxy)
    proxy.fail_next(0)
    proxy.lose_method = None
    proxy.lose_reply_next(1)
    result = await db.save_many("items", [{"_id": "bulk", "v": 1}])
    assert _outcomes(result) == {"bulk": WriteOutcomeUnknownError}
    proxy.before = None
    proxy.fail_next(0)
    assert (await db.get("items", "new"))["v"] == 1
    assert (await db.get("items", "bulk"))["v"] == 1
    with pytest.raises(NotFoundError):
        await db.get("items", "old")
