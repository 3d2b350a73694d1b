"""Coalescing on CouchDB, counted at the proxy: 32 concurrent gets are one ``_all_docs``
request, 32 concurrent saves one ``_bulk_docs``; each caller keeps its own outcome."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from asyncdb._service import DatabaseService
from asyncdb.drivers.couchdb import CouchDBDriver
from asyncdb.drivers.couchdb._transport import parse_server_url
from asyncdb.errors import BackendUnavailableError, NotFoundError, WriteOutcomeUnknownError
from asyncdb.middleware.prefix import PrefixMiddleware
from tests.couchdb._proxy import FaultProxy, Seen

N = 32


def _kinds(seen: list[Seen]) -> list[str]:
    return [f"{s.method} {s.raw_path.split('?')[0].rsplit('/', 1)[-1]}" for s in seen]


async def _stored(db: DatabaseService, proxy: FaultProxy) -> None:
    result = await db.save_many("items", [{"_id": f"d{i}", "n": i} for i in range(N)])
    assert result.ok
    proxy.reset()


async def test_32_concurrent_gets_are_one_request(
    make_db: Callable[..., DatabaseService], proxy: FaultProxy
) -> None:
    db = make_db()
    await _stored(db, proxy)
    docs = await asyncio.gather(*(db.get("items", f"d{i}") for i in range(N)))
    assert _kinds(proxy.seen) == ["POST _all_docs"]
    assert [doc["n"] for doc in docs] == list(range(N))


async def test_without_coalescing_they_are_32_requests(
    make_db: Callable[..., DatabaseService], proxy: FaultProxy, couchdb_url: str, prefix: str
) -> None:
    await _stored(make_db(), proxy)
    address = parse_server_url(couchdb_url, None, None)
    driver = CouchDBDriver(proxy.url, user=address.user, password=address.password)
    async with DatabaseService(PrefixMiddleware(driver, prefix), coalesce=False) as plain:
        await asyncio.gather(*(plain.get("items", f"d{i}") for i in range(N)))
    reads = [seen for seen in proxy.seen if f"/{prefix}items/" in seen.raw_path]
    assert len(reads) == N and {seen.method for seen in reads} == {"GET"}


async def test_missing_documents_in_a_batch(
    make_db: Callable[..., DatabaseService], proxy: FaultProxy
) -> None:
    db = make_db()
    await _stored(db, proxy)
    await db.delete("items", "d3")
    proxy.reset()
    got = await asyncio.gather(
        *(db.get("items", doc_id) for doc_id in ("d1", "d3", "never", "d2")),
        return_exceptions=True,
    )
    assert _kinds(proxy.seen) == ["POST _all_docs"]
    assert isinstance(got[1], NotFoundError) and isinstance(got[2], NotFoundError)
    assert got[0]["n"] == 1 and got[3]["n"] == 2  # type: ignore[index]


async def test_32_concurrent_saves_of_new_documents_are_one_request(
    make_db: Callable[..., DatabaseService], proxy: FaultProxy
) -> None:
    db = make_db()
    await db.save("items", "first", {})  # the database exists from here on
    proxy.reset()
    saved = await asyncio.gather(*(db.save("items", f"s{i}", {"n": i}) for i in range(N)))
    assert _kinds(proxy.seen) == ["POST _bulk_docs"]
    proxy.reset()
    assert await db.get_many("items", [f"s{i}" for i in range(N)]) == {
        doc["_id"]: doc for doc in saved
    }


async def test_32_concurrent_overwrites_are_three_requests(
    make_db: Callable[..., DatabaseService], proxy: FaultProxy
) -> None:
    db = make_db()
    await _stored(db, proxy)
    fresh = make_db()  # a driver that has not seen the revisions: the full upsert path
    await fresh.open()
    proxy.reset()
    saved = await asyncio.gather(*(fresh.save("items", f"d{i}", {"v": 2}) for i in range(N)))
    # Sent without revisions, the conflicts' revisions read in one request, sent again.
    assert _kinds(proxy.seen) == ["POST _bulk_docs", "POST _all_docs", "POST _bulk_docs"]
    assert all(doc["_rev"].startswith("2-") for doc in saved)
    assert (await db.get("items", "d7"))["v"] == 2


async def test_saves_of_one_id_are_separate_requests_in_order(
    make_db: Callable[..., DatabaseService], proxy: FaultProxy
) -> None:
    db = make_db()
    await db.save("items", "first", {})
    proxy.reset()
    await asyncio.gather(
        db.save("items", "a", {"v": 1}), db.save("items", "b", {}), db.save("items", "a", {"v": 2})
    )
    assert _kinds(proxy.seen)[0] == "POST _bulk_docs"
    assert len(proxy.seen) >= 2
    assert (await db.get("items", "a"))["v"] == 2


async def test_a_failed_batch_fails_every_caller(
    make_db: Callable[..., DatabaseService], proxy: FaultProxy
) -> None:
    db = make_db(max_retries=1)
    await _stored(db, proxy)
    proxy.fail_next(100, status=503)
    got = await asyncio.gather(
        *(db.get("items", f"d{i}") for i in range(N)), return_exceptions=True
    )
    assert all(isinstance(answer, BackendUnavailableError) for answer in got)
    assert len(proxy.seen) == 2  # one request and its retry, not 32 of each
    proxy.fail_next(0)
    proxy.reset()
    proxy.fail_next(100, status=503)  # the server says it did not act
    written = await asyncio.gather(
        *(db.save("items", f"n{i}", {}) for i in range(N)), return_exceptions=True
    )
    assert all(type(answer) is BackendUnavailableError for answer in written)
    assert len(proxy.seen) == 2


async def test_a_lost_batch_answer_is_unknown_for_every_caller(
    make_db: Callable[..., DatabaseService], proxy: FaultProxy
) -> None:
    db = make_db(max_retries=1)
    await db.save("items", "first", {})
    proxy.reset()
    proxy.lose_reply_next(100)  # every attempt lands, no answer comes back
    written = await asyncio.gather(
        *(db.save("items", f"n{i}", {"i": i}) for i in range(N)), return_exceptions=True
    )
    assert all(isinstance(answer, WriteOutcomeUnknownError) for answer in written)
    proxy.lose_reply_next(0)
    proxy.reset()
    stored = await db.get_many("items", [f"n{i}" for i in range(N)])
    assert all(doc is not None and doc["i"] == i for i, doc in enumerate(stored.values()))
