"""The lifecycle of a DynamoDB index: processes that learn of it (the registry and its
refresh interval), a registry that outlived its table, and the limits of ``ensure_index``."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from asyncdb._service import DatabaseService
from asyncdb._settings import Settings
from asyncdb.drivers.dynamodb import DynamoDBDriver
from asyncdb.drivers.dynamodb._registry import REGISTRY_KEY
from asyncdb.errors import ConfigurationError, InvalidQueryError
from asyncdb.testing._suite.ordering import expected
from tests.backends.dynamodb import DynamoDBEndpoint
from tests.dynamodb._indexed import adds_gsis, assert_from_index, sessions
from tests.dynamodb._proxy import FaultProxy


# -- several processes ---------------------------------------------------------------------
async def test_another_process_learns_the_index_and_keys_its_writes(
    db: DatabaseService,
    make_db: Callable[..., DatabaseService],
    dynamodb_endpoint: DynamoDBEndpoint,
) -> None:
    other = make_db(direct=True)
    await other.save("sessions", "before", {"user_id": "u1", "created": 1})
    await db.ensure_index("sessions", ["user_id"], order_by=["-created"])
    await other.save("sessions", "after", {"user_id": "u1", "created": 2})
    strict = adds_gsis(dynamodb_endpoint)
    found = await db.find("sessions", {"user_id": "u1"}, order_by=["-created"], strict=strict)
    assert [d["_id"] for d in found] == ["after", "before"]


async def test_writers_that_refresh_within_the_wait_are_all_in_the_index(
    make_db: Callable[..., DatabaseService], dynamodb_endpoint: DynamoDBEndpoint
) -> None:
    if not adds_gsis(dynamodb_endpoint):
        pytest.skip("dynalite cannot add a GSI to an existing table")
    refresh = 0.3
    maker, writer = make_db(index_refresh_seconds=refresh), make_db(index_refresh_seconds=refresh)
    await writer.save("sessions", "w0", {"user_id": "u1", "created": 0})  # its copy: no index
    written = ["w0"]

    async def keep_writing() -> None:
        for i in range(1, 40):
            await writer.save("sessions", f"w{i}", {"user_id": "u1", "created": i})
            written.append(f"w{i}")
            await asyncio.sleep(0.02)

    started = asyncio.get_running_loop().time()
    await asyncio.gather(
        maker.ensure_index("sessions", ["user_id"], order_by=["-created"]), keep_writing()
    )
    assert asyncio.get_running_loop().time() - started >= 2 * refresh
    found = await maker.find("sessions", {"user_id": "u1"}, order_by=["-created"], strict=True)
    assert [d["_id"] for d in found] == written[::-1]


async def test_a_second_driver_uses_the_index_from_its_first_find_on(
    db: DatabaseService, make_db: Callable[..., DatabaseService], proxy: FaultProxy
) -> None:
    await db.ensure_index("sessions", ["user_id"], order_by=["-created"])
    docs = sessions(20)
    assert (await db.save_many("sessions", docs)).ok
    other = make_db(index_refresh_seconds=3600)
    want = expected(docs, {"user_id": "u1"}, ["-created"])
    first = await other.find("sessions", {"user_id": "u1"}, order_by=["-created"])
    assert [d["_id"] for d in first] == want  # the face orders the filter's answer
    proxy.requests.clear()
    again = await other.find("sessions", {"user_id": "u1"}, order_by=["-created"], strict=True)
    assert [d["_id"] for d in again] == want
    assert_from_index(proxy)


# -- what an index cannot be ---------------------------------------------------------------
async def test_a_dropped_collection_with_a_stale_registry_falls_back(
    db: DatabaseService, make_db: Callable[..., DatabaseService]
) -> None:
    other = make_db(index_refresh_seconds=3600)
    await db.ensure_index("sessions", ["user_id"], order_by=["-created"])
    await db.save("sessions", "a", {"user_id": "u1", "created": 1})
    assert [d["_id"] for d in await other.find("sessions", {"user_id": "u1"})] == ["a"]
    await db.drop_collection("sessions")
    await db.save("sessions", "b", {"user_id": "u1", "created": 2})  # a new table, no GSI
    found = await other.find("sessions", {"user_id": "u1"}, order_by=["-created"])
    assert [d["_id"] for d in found] == ["b"]


async def test_more_than_twenty_indexes_is_a_clear_error(
    db: DatabaseService, dynamodb_endpoint: DynamoDBEndpoint
) -> None:
    if not adds_gsis(dynamodb_endpoint):
        pytest.skip("dynalite cannot add GSIs to an existing table")
    for number in range(20):
        await db.ensure_index("items", [f"f{number}"])
    with pytest.raises(InvalidQueryError, match="20"):
        await db.ensure_index("items", ["f20"])
    await db.ensure_index("items", ["f3"])  # an index it has stays fine


async def test_an_index_too_wide_for_the_key_is_refused_before_any_io(
    db: DatabaseService, proxy: FaultProxy
) -> None:
    proxy.requests.clear()
    with pytest.raises(InvalidQueryError):
        await db.ensure_index("items", [f"f{i}" for i in range(70)])
    assert proxy.requests == []


# -- the refresh interval ------------------------------------------------------------------
def test_the_refresh_interval_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert DynamoDBDriver.from_settings(Settings())._registry.refresh == 30
    monkeypatch.setenv("DATABASE_INDEX_REFRESH_SECONDS", "2.5")
    assert DynamoDBDriver.from_settings(Settings())._registry.refresh == 2.5
    for wrong in ("-1", "nan", "soon"):
        monkeypatch.setenv("DATABASE_INDEX_REFRESH_SECONDS", wrong)
        with pytest.raises(ConfigurationError, match="DATABASE_INDEX_REFRESH_SECONDS"):
            DynamoDBDriver.from_settings(Settings())
    with pytest.raises(ConfigurationError, match="index_refresh_seconds"):
        DynamoDBDriver(index_refresh_seconds=-0.5)


async def test_a_driver_reads_the_registry_once_per_refresh_interval(
    make_db: Callable[..., DatabaseService], proxy: FaultProxy
) -> None:
    async with make_db(index_refresh_seconds=3600) as db:
        await asyncio.gather(*(db.save("items", f"a{i}", {"n": i}) for i in range(10)))
        await db.save_many("items", [{"_id": f"b{i}", "n": i} for i in range(10)])
        registry_reads = [
            body
            for op, body in proxy.requests
            if op == "GetItem" and body["Key"]["_id"]["S"] == REGISTRY_KEY
        ]
        assert len(registry_reads) == 1
