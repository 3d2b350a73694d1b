"""What only the CouchDB driver does: URL encoding, retries, revision races, the ETag path,
error mapping, round trips per operation and the number encoding. Runs against the same
real server as the conformance suite, optionally through a fault-injecting proxy."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import anyio
import pytest

from asyncdb._factory import create_database_service
from asyncdb._service import DatabaseService
from asyncdb._settings import Settings
from asyncdb.drivers.couchdb import CouchDBDriver
from asyncdb.drivers.couchdb._transport import parse_server_url
from asyncdb.errors import (
    AuthenticationError,
    BackendUnavailableError,
    ConfigurationError,
    ConflictError,
    WriteOutcomeUnknownError,
)
from asyncdb.testing import assert_same_json
from tests.backends._process import free_port
from tests.couchdb._proxy import FaultProxy
from tests.couchdb.conftest import RawRequest

ODD_IDS = ["a b", "q?x=1", "h#frag", "p+lus", "a&b=c", "%2F", "50%", "ü日本😀", "..x", "~"]


def _paths(proxy: FaultProxy) -> list[str]:
    return [f"{seen.method} {seen.raw_path.partition('?')[0]}" for seen in proxy.seen]


# -- URLs ------------------------------------------------------------------------------------
@pytest.mark.parametrize("doc_id", ODD_IDS)
async def test_odd_ids_are_percent_encoded_as_one_path_segment(
    make_db: Callable[..., DatabaseService], proxy: FaultProxy, prefix: str, doc_id: str
) -> None:
    db = make_db()
    saved = await db.save("items", doc_id, {"v": 1})
    proxy.reset()
    got = await db.get("items", doc_id)
    assert got == saved
    assert proxy.seen[0].raw_path == f"/{prefix}items/{quote(doc_id, safe='')}"
    assert [d["_id"] for d in await db.list_all("items")] == [doc_id]
    assert await db.delete("items", doc_id) is True
    with pytest.raises(Exception, match="not found"):
        await db.get("items", doc_id)


# -- retries ---------------------------------------------------------------------------------
async def test_transient_statuses_are_retried(
    make_db: Callable[..., DatabaseService], proxy: FaultProxy
) -> None:
    db = make_db(max_retries=3)
    await db.save("items", "a", {"v": 1})
    proxy.reset()
    proxy.fail_next(3, status=503)
    assert (await db.get("items", "a"))["v"] == 1
    assert len(proxy.seen) == 4  # three injected failures, then the real answer


async def test_dropped_connections_are_retried(
    make_db: Callable[..., DatabaseService], proxy: FaultProxy
) -> None:
    db = make_db(max_retries=3)
    await db.save("items", "a", {"v": 1})
    proxy.reset()
    proxy.drop_next(2)
    assert (await db.save("items", "a", {"v": 2}))["v"] == 2
    assert (await db.get("items", "a"))["v"] == 2


async def test_exhausted_retries_raise_backend_unavailable(
    make_db: Callable[..., DatabaseService], proxy: FaultProxy
) -> None:
    db = make_db(max_retries=2)
    await db.save("items", "a", {"v": 1})
    proxy.reset()
    proxy.fail_next(10, status=502)
    with pytest.raises(BackendUnavailableError, match="502"):
        await db.get("items", "a")
    assert len(proxy.seen) == 3


async def test_a_conditional_save_whose_reply_was_lost_is_reported_as_unknown(
    make_db: Callable[..., DatabaseService], proxy: FaultProxy
) -> None:
    # The first PUT lands but its reply is lost; the retry meets the revision that PUT
    # made. A ConflictError would be false: the outcome is reported as unknown instead.
    db = make_db(max_retries=2)
    first = await db.save("items", "a", {"v": 1})
    proxy.lose_reply_next(1)
    with pytest.raises(WriteOutcomeUnknownError, match="read the document"):
        await db.save("items", "a", {"v": 2, "_rev": first["_rev"]})
    assert (await db.get("items", "a"))["v"] == 2  # it had landed


async def test_a_create_whose_reply_was_lost_is_reported_as_unknown(
    make_db: Callable[..., DatabaseService], proxy: FaultProxy
) -> None:
    db = make_db(max_retries=2)
    await db.save("items", "first", {})  # the database exists: one PUT is the create
    proxy.lose_reply_next(1)
    with pytest.raises(WriteOutcomeUnknownError):
        await db.create("items", "a", {"v": 1})
    assert (await db.get("items", "a"))["v"] == 1


async def test_update_with_a_lost_reply_applies_its_function_once(
    make_db: Callable[..., DatabaseService], proxy: FaultProxy
) -> None:
    # Reported as a conflict, update() would re-read and increment a second time.
    db = make_db(max_retries=2)
    await db.save("items", "counter", {"n": 0})
    calls = 0

    def increment(doc: dict[str, Any] | None) -> dict[str, Any]:
        nonlocal calls
        calls += 1
        assert doc is not None
        proxy.lose_reply_next(1)  # the next request is the conditional PUT
        return {**doc, "n": doc["n"] + 1}

    with pytest.raises(WriteOutcomeUnknownError):
        await db.update("items", "counter", increment)
    assert calls == 1
    assert (await db.get("items", "counter"))["n"] == 1


async def test_a_lost_unconditional_save_is_simply_written_again(
    make_db: Callable[..., DatabaseService], proxy: FaultProxy
) -> None:
    db = make_db(max_retries=2)
    await db.save("items", "a", {"v": 1})
    proxy.lose_reply_next(1)
    saved = await db.save("items", "a", {"v": 2})
    assert await db.get("items", "a") == saved


async def test_bulk_conditional_writes_with_a_lost_reply_are_unknown_alone(
    make_db: Callable[..., DatabaseService], proxy: FaultProxy
) -> None:
    db = make_db(max_retries=2)
    old = await db.save("items", "guarded", {"v": 1})
    proxy.lose_reply_next(1)
    result = await db.save_many(
        "items", [{"_id": "guarded", "_rev": old["_rev"], "v": 2}, {"_id": "plain", "v": 1}]
    )
    assert [(outcome.id, type(outcome.error)) for outcome in result.failed] == [
        ("guarded", WriteOutcomeUnknownError)
    ]
    assert (await db.get("items", "guarded"))["v"] == 2
    assert (await db.get("items", "plain"))["v"] == 1


async def test_a_true_conflict_after_a_refused_attempt_is_still_a_conflict(
    make_db: Callable[..., DatabaseService], proxy: FaultProxy
) -> None:
    # 503 says the server did not act, so a conflict on the retry is real.
    db = make_db(max_retries=2)
    first = await db.save("items", "a", {"v": 1})
    await db.save("items", "a", {"v": 2})
    proxy.fail_next(1, status=503)
    with pytest.raises(ConflictError):
        await db.save("items", "a", {"v": 3, "_rev": first["_rev"]})
    assert (await db.get("items", "a"))["v"] == 2


async def test_unreachable_server_raises_backend_unavailable() -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    async with DatabaseService(CouchDBDriver(url, max_retries=1)) as db:
        with pytest.raises(BackendUnavailableError, match=r"127\.0\.0\.1"):
            await db.ping()
        with pytest.raises(BackendUnavailableError):
            await db.get("items", "a")


# -- revisions -------------------------------------------------------------------------------
async def test_concurrent_unconditional_saves_of_one_id_all_succeed(
    make_db: Callable[..., DatabaseService],
) -> None:
    db = make_db()
    results: dict[int, str] = {}

    async def writer(n: int) -> None:
        results[n] = (await db.save("items", "hot", {"writer": n}))["_rev"]

    async with anyio.create_task_group() as group:
        for n in range(24):
            group.start_soon(writer, n)
    assert len(results) == 24
    final = await db.get("items", "hot")
    # Last writer wins: the stored document is one writer's, under that writer's revision.
    assert results[final["writer"]] == final["_rev"]
    assert len(set(results.values())) == 24


async def test_upsert_of_an_existing_id_reads_the_revision_with_head(
    make_db: Callable[..., DatabaseService], proxy: FaultProxy, prefix: str
) -> None:
    db = make_db()
    first = await db.save("items", "x", {"v": 1})
    proxy.reset()
    second = await db.save("items", "x", {"v": 2})
    doc = f"/{prefix}items/x"
    calls = _paths(proxy)
    assert calls[0] == f"PUT {doc}" and calls[1] == f"HEAD {doc}" and calls[-1] == f"PUT {doc}"
    # CouchDB's ETag is the revision; where it is not (pouchdb-server) the driver reads
    # the revision by key once and from then on skips the HEAD.
    assert calls[2:-1] in ([], [f"GET /{prefix}items/_all_docs"])
    assert second["_rev"] != first["_rev"] and second["_rev"].startswith("2-")
    proxy.reset()
    await db.save("items", "x", {"v": 3})
    assert len(proxy.seen) == 3
    assert (await db.get("items", "x"))["v"] == 3


async def test_stale_and_malformed_revisions_conflict(
    make_db: Callable[..., DatabaseService],
) -> None:
    db = make_db()
    first = await db.save("items", "x", {"v": 1})
    await db.save("items", "x", {"v": 2})
    for rev in (first["_rev"], "not-a-revision", "7-ffff"):
        with pytest.raises(ConflictError):
            await db.save("items", "x", {"v": 3, "_rev": rev})
        with pytest.raises(ConflictError):
            await db.delete("items", "x", rev=rev)
    result = await db.save_many("items", [{"_id": "x", "_rev": "garbage", "v": 4}, {"_id": "y"}])
    assert isinstance(result.outcomes[0].error, ConflictError) and result.outcomes[1].ok


# -- round trips -----------------------------------------------------------------------------
async def test_a_normal_operation_costs_one_round_trip(
    make_db: Callable[..., DatabaseService], proxy: FaultProxy
) -> None:
    db = make_db()
    await db.save("items", "warm", {"v": 0})  # creates the database
    await db.list_page("items", limit=1)  # learns the server's scan bounds once
    await db.find("items", {"v": 0})

    async def costs(operation: Any) -> int:
        proxy.reset()
        await operation
        return len(proxy.seen)

    assert await costs(db.save("items", "a", {"v": 1})) == 1
    got = await db.get("items", "a")
    assert await costs(db.get("items", "a")) == 1
    assert await costs(db.save("items", "a", {**got, "v": 2})) == 1
    assert await costs(db.create("items", "b", {"v": 1})) == 1
    assert await costs(db.get_many("items", ["a", "b", "c"])) == 1
    assert await costs(db.list_page("items", limit=10)) == 1
    assert await costs(db.find("items", {"v": 2})) == 1
    latest = await db.get("items", "a")
    assert await costs(db.delete("items", "a", rev=latest["_rev"])) == 1
    # Bulk: new documents in one _bulk_docs; existing ones then need their revisions read
    # (one _all_docs) and are sent again.
    assert await costs(db.save_many("items", [{"_id": f"m{i}"} for i in range(50)])) == 1
    assert await costs(db.save_many("items", [{"_id": f"m{i}"} for i in range(60)])) == 3


async def test_first_write_creates_the_database(
    make_db: Callable[..., DatabaseService], proxy: FaultProxy, prefix: str
) -> None:
    db = make_db()
    assert await db.list_all("items") == []
    assert await db.find("items", {"v": 1}) == []
    assert (await db.get_many("items", ["a"])) == {"a": None}
    proxy.reset()
    await db.save("items", "a", {"v": 1})
    assert _paths(proxy) == [
        f"PUT /{prefix}items/a",
        f"PUT /{prefix}items",
        f"PUT /{prefix}items/a",
    ]


# -- credentials and configuration -------------------------------------------------------------
async def test_wrong_credentials_name_the_server_but_not_the_password(couchdb_url: str) -> None:
    base = parse_server_url(couchdb_url, None, None).base_url
    secret = "s3cret-" + secrets.token_hex(4)
    driver = CouchDBDriver(base, user="nobody-" + secrets.token_hex(3), password=secret)
    assert secret not in driver.describe() and secret not in repr(driver)
    async with DatabaseService(driver) as db:
        with pytest.raises(AuthenticationError) as caught:
            await db.ping()
        assert base in str(caught.value) and secret not in str(caught.value)
        with pytest.raises(AuthenticationError) as caught:
            await db.get("items", "a")
        assert secret not in str(caught.value)


async def test_credentials_in_the_url_are_redacted(couchdb_url: str) -> None:
    base = parse_server_url(couchdb_url, None, None).base_url
    host = base.split("://", 1)[1]
    driver = CouchDBDriver(f"http://someone:pa%3Ass@{host}")
    assert "pa:ss" not in driver.describe() and "pa%3Ass" not in repr(driver)
    async with DatabaseService(driver) as db:
        with pytest.raises(AuthenticationError) as caught:
            await db.ping()
        assert "pa:ss" not in str(caught.value) and "pa%3Ass" not in str(caught.value)


def test_missing_url_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="COUCHDB_URL"):
        CouchDBDriver.from_settings(Settings(database_provider="couchdb"))
    with pytest.raises(ConfigurationError, match="COUCHDB_URL"):
        create_database_service(Settings(database_provider="couchdb"))


def test_settings_build_the_driver() -> None:
    settings = Settings(
        database_provider="couchdb",
        couchdb_url="https://db.example:6984/",
        couchdb_user="app",
        couchdb_password="hunter2",
        request_timeout=5,
        max_retries=1,
    )
    service = create_database_service(settings)
    assert "hunter2" not in repr(service)
    assert "https://db.example:6984" in service.driver.describe()


# -- number encoding -------------------------------------------------------------------------
async def test_number_types_survive_and_plain_documents_are_stored_plainly(
    make_db: Callable[..., DatabaseService], raw_couch: RawRequest, prefix: str
) -> None:
    db = make_db()
    body: dict[str, Any] = {
        "one": 1.0,
        "zero": -0.0,
        "int": 1,
        "big": 2**63 - 1,
        "small": -(2**63),
        "edge": 2**53 + 1,
        "nested": [{"f": 3.0, "l": [2**60, 0.5]}],
        "~asyncdb": "a caller's own key",
        "~~asyncdb": 2.0,
    }
    await db.save("items", "numbers", body)
    got = await db.get("items", "numbers")
    del got["_id"], got["_rev"]
    assert_same_json(got, body)  # -0.0 may come back as 0.0, but as a float
    assert await db.find("items", {"big": 2**63 - 1}, fields=["int"]) == [
        {"_id": "numbers", "_rev": (await db.get("items", "numbers"))["_rev"], "int": 1}
    ]
    assert [d["_id"] for d in await db.find("items", {"one": 1})] == ["numbers"]

    await db.save("items", "plain", {"a": 1, "b": 1.5, "c": "x"})
    _, stored = await raw_couch("GET", f"/{prefix}items/plain")
    assert {k: v for k, v in stored.items() if not k.startswith("_")} == {
        "a": 1,
        "b": 1.5,
        "c": "x",
    }
