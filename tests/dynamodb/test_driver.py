"""What only the DynamoDB driver has to prove: its number and empty-value encoding, its
round trips, its paging of ``find``, its retries of throttling and unprocessed items, and
its error mapping. Faults come from a loopback proxy in front of the real emulator."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from asyncdb._service import DatabaseService
from asyncdb._settings import Settings
from asyncdb.drivers.dynamodb import DynamoDBDriver
from asyncdb.errors import (
    AuthenticationError,
    BackendUnavailableError,
    ConfigurationError,
    ConflictError,
    DocumentTooLargeError,
    NotFoundError,
)
from asyncdb.middleware.prefix import PrefixMiddleware
from asyncdb.testing import assert_same_json
from tests.backends._process import free_port
from tests.backends.dynamodb import DynamoDBEndpoint
from tests.dynamodb._proxy import FaultProxy, Forward, Reply, error_reply, reads_a_document

MakeDriver = Callable[..., DynamoDBDriver]

NUMBERS: dict[str, Any] = {
    "int_max": 2**63 - 1,
    "int_min": -(2**63),
    "zero": 0,
    "one_float": 1.0,
    "neg_zero": -0.0,
    "tiny": 1e-130,
    "neg_tiny": -1e-130,
    "huge": 9.99e125,
    "neg_huge": -9.99e125,
    "tenth": 0.1,
    "big_float": 1e16,
    "pi": 3.141592653589793,
    "nested": {"a": [1, 1.0, 2.5, {"b": [0.0, -7, 1e-5, 123456789012345678]}], "c": 2.0**53},
}


def _prefix() -> str:
    return f"t{secrets.token_hex(5)}_"


@pytest.fixture
async def proxy(dynamodb_endpoint: DynamoDBEndpoint) -> AsyncIterator[FaultProxy]:
    async with FaultProxy(dynamodb_endpoint.url) as running:
        yield running


@pytest.fixture
async def db(make_driver: MakeDriver) -> AsyncIterator[DatabaseService]:
    async with DatabaseService(PrefixMiddleware(make_driver(), _prefix())) as service:
        yield service
        await service.drop_collection("docs")


@pytest.fixture
async def proxied(make_driver: MakeDriver, proxy: FaultProxy) -> AsyncIterator[DatabaseService]:
    """A service whose driver talks through ``proxy``."""
    driver = make_driver(endpoint_url=proxy.url)
    async with DatabaseService(PrefixMiddleware(driver, _prefix())) as service:
        yield service
        proxy.handler = _passthrough
        await service.drop_collection("docs")


async def _passthrough(operation: str, payload: dict[str, Any], forward: Forward) -> Reply:
    return await forward(payload)


# -- encoding ------------------------------------------------------------------------------
async def test_number_edge_cases_round_trip_with_exact_types(db: DatabaseService) -> None:
    saved = await db.save("docs", "n1", NUMBERS)
    assert_same_json({k: v for k, v in saved.items() if k[0] != "_"}, NUMBERS)
    got = await db.get("docs", "n1")
    assert_same_json({k: v for k, v in got.items() if k[0] != "_"}, NUMBERS)
    assert type(got["neg_zero"]) is float
    (listed,) = await db.list_all("docs")
    assert_same_json(listed, got)
    assert_same_json((await db.get_many("docs", ["n1"]))["n1"], got)
    await db.save_many("docs", [{"_id": "n2", **NUMBERS}])
    assert_same_json(
        {k: v for k, v in (await db.get("docs", "n2")).items() if k[0] != "_"}, NUMBERS
    )


@pytest.mark.parametrize(
    ("stored", "wanted", "hit"),
    [
        (1, 1, True),
        (1, 1.0, True),
        (1.0, 1, True),
        (1.0, 1.0, True),
        (1e16, 10**16, True),
        (10**16, 1e16, True),
        (9.99e125, 9.99e125, True),
        (2**63 - 1, 2**63 - 1, True),
        (2**63 - 1, float(2**63 - 1), False),
        (0.1, 0.1, True),
        (-0.0, 0, True),
        (1, True, False),
        (True, 1, False),
        (0, None, False),
        (2.0**200, float(2**200), True),
    ],
)
async def test_find_compares_numbers_like_json(
    db: DatabaseService, stored: Any, wanted: Any, hit: bool
) -> None:
    await db.save("docs", "x", {"v": stored, "w": [stored]})
    await db.save("docs", "y", {"v": "other"})
    found = await db.find("docs", {"v": wanted})
    assert [d["_id"] for d in found] == (["x"] if hit else [])
    found = await db.find("docs", {"v": {"$in": ["nope", wanted]}})
    assert [d["_id"] for d in found] == (["x"] if hit else [])


async def test_empty_values_round_trip(db: DatabaseService) -> None:
    doc = {"s": "", "m": {}, "l": [], "deep": {"s": "", "m": {"e": {}}, "l": [[], {}, ""]}}
    await db.save("docs", "e", doc)
    got = await db.get("docs", "e")
    assert_same_json({k: v for k, v in got.items() if k[0] != "_"}, doc)
    assert [d["_id"] for d in await db.find("docs", {"s": ""})] == ["e"]


async def test_reserved_words_and_odd_field_names_in_find(db: DatabaseService) -> None:
    doc = {"name": "a", "size": 3, "status": None, "a.b": "dot", "with space": True, "$x": 1}
    await db.save("docs", "r", doc)
    # In a where, a dot separates a path; "\\." names a key that holds a dot.
    where = {("a\\.b" if key == "a.b" else key): value for key, value in doc.items()}
    found = await db.find("docs", where, fields=["name", "a.b"])
    assert found == [{"_id": "r", "_rev": found[0]["_rev"], "name": "a", "a.b": "dot"}]


# -- round trips -----------------------------------------------------------------------------
async def test_one_round_trip_per_operation_once_the_table_exists(
    proxied: DatabaseService, proxy: FaultProxy
) -> None:
    db = proxied
    first = await db.save("docs", "a", {"k": 1})
    assert "CreateTable" in proxy.calls
    expected = [
        ("get", lambda: db.get("docs", "a"), "GetItem"),
        ("save", lambda: db.save("docs", "b", {"k": 2}), "PutItem"),
        ("save _rev", lambda: db.save("docs", "a", {**first, "k": 3}), "PutItem"),
        ("create", lambda: db.create("docs", "c", {"k": 4}), "PutItem"),
        ("delete", lambda: db.delete("docs", "c"), "DeleteItem"),
        ("list_page", lambda: db.list_page("docs", limit=10), "Scan"),
        ("get_many", lambda: db.get_many("docs", [f"id{i}" for i in range(100)]), "BatchGetItem"),
        (
            "save_many",
            lambda: db.save_many("docs", [{"_id": f"id{i}", "i": i} for i in range(25)]),
            "BatchWriteItem",
        ),
        ("delete_many", lambda: db.delete_many("docs", ["id1", "id2"]), "BatchWriteItem"),
        ("find", lambda: db.find("docs", {"k": 2}), "Scan"),
    ]
    for label, operation, api in expected:
        proxy.calls.clear()
        await operation()
        assert proxy.calls == [api], label


async def test_reads_of_a_missing_table_create_nothing(
    proxied: DatabaseService, proxy: FaultProxy
) -> None:
    db = proxied
    with pytest.raises(NotFoundError):
        await db.get("docs", "a")
    assert await db.list_all("docs") == []
    assert await db.find("docs", {"k": 1}) == []
    assert await db.find("docs", {"k": 1}, limit=1) == []
    assert await db.get_many("docs", ["a", "b"]) == {"a": None, "b": None}
    assert await db.delete("docs", "a") is False
    assert await db.delete("docs", "a", rev="1-x") is False
    assert (await db.delete_many("docs", ["a", {"_id": "b", "_rev": "r"}])).ok
    with pytest.raises(ConflictError):
        await db.save("docs", "a", {"_rev": "stale", "k": 1})
    assert "CreateTable" not in proxy.calls
    assert "DescribeTable" not in proxy.calls


async def test_find_pages_until_it_has_enough_sparse_matches(
    make_driver: MakeDriver, proxy: FaultProxy
) -> None:
    driver = make_driver(endpoint_url=proxy.url, find_page_size=10)
    async with DatabaseService(PrefixMiddleware(driver, _prefix())) as db:
        docs = [{"_id": f"d{i:03}", "hit": i % 60 == 7, "i": i} for i in range(300)]
        assert (await db.save_many("docs", docs)).ok
        order = [d["_id"] for d in await db.list_all("docs")]
        hits = [doc_id for doc_id in order if int(doc_id[1:]) % 60 == 7]
        assert len(hits) == 5
        proxy.calls.clear()
        found = await db.find("docs", {"hit": True}, fields=["i"], limit=3)
        assert [d["_id"] for d in found] == hits[:3]
        assert proxy.count("Scan") > 1  # the first page (Limit 10) cannot hold 3 sparse matches
        assert [d["_id"] for d in await db.find("docs", {"hit": True})] == hits
        assert [d["_id"] for d in await db.find("docs", {"hit": True}, limit=50)] == hits
        await db.drop_collection("docs")


# -- retries ---------------------------------------------------------------------------------
async def test_throttling_is_retried_then_surfaced(
    make_driver: MakeDriver, proxy: FaultProxy
) -> None:
    throttles = {"left": 2}

    async def throttle(operation: str, payload: dict[str, Any], forward: Forward) -> Reply:
        if reads_a_document(operation, payload) and throttles["left"] > 0:
            throttles["left"] -= 1
            return error_reply("ThrottlingException", "Rate of requests exceeds the allowed rate")
        if reads_a_document(operation, payload) and throttles["left"] < 0:
            return error_reply("ProvisionedThroughputExceededException", "exceeded", status=400)
        return await forward(payload)

    proxy.handler = throttle
    driver = make_driver(endpoint_url=proxy.url, max_retries=3)
    async with DatabaseService(PrefixMiddleware(driver, _prefix())) as db:
        await db.save("docs", "a", {"k": 1})
        proxy.calls.clear()
        assert (await db.get("docs", "a"))["k"] == 1
        assert proxy.calls == ["GetItem"] * 3
        throttles["left"] = -1  # from now on always throttled
        proxy.calls.clear()
        with pytest.raises(BackendUnavailableError):
            await db.get("docs", "a")
        assert proxy.calls == ["GetItem"] * 4  # one attempt and max_retries=3 retries
        proxy.handler = _passthrough
        await db.drop_collection("docs")


async def test_server_errors_are_retried_and_an_ambiguous_create_is_recognised(
    proxied: DatabaseService, proxy: FaultProxy
) -> None:
    state = {"fail_after_forward": 1}

    async def lose_reply(operation: str, payload: dict[str, Any], forward: Forward) -> Reply:
        reply = await forward(payload)
        if operation == "PutItem" and state["fail_after_forward"] > 0:
            state["fail_after_forward"] -= 1
            return error_reply("InternalServerError", "Internal server error", status=500)
        return reply

    await proxied.save("docs", "warm", {})
    proxy.handler = lose_reply
    proxy.calls.clear()
    # The first PutItem lands but its answer is lost; the retry then fails its condition.
    created = await proxied.create("docs", "new", {"k": 1})
    assert (await proxied.get("docs", "new"))["_rev"] == created["_rev"]
    assert proxy.count("PutItem") == 2


async def test_unprocessed_items_and_keys_are_retried_until_done(
    proxied: DatabaseService, proxy: FaultProxy
) -> None:
    rounds = {"BatchWriteItem": 2, "BatchGetItem": 2}

    async def halve(operation: str, payload: dict[str, Any], forward: Forward) -> Reply:
        if operation not in rounds or rounds[operation] == 0:
            return await forward(payload)
        rounds[operation] -= 1
        ((table, requests),) = payload["RequestItems"].items()
        if operation == "BatchWriteItem":
            keep, rest = requests[: len(requests) // 2], requests[len(requests) // 2 :]
            status, body = await forward({"RequestItems": {table: keep}})
            body["UnprocessedItems"] = {table: rest}
            return status, body
        keys = requests["Keys"]
        keep_keys, rest_keys = keys[: len(keys) // 2], keys[len(keys) // 2 :]
        status, body = await forward({"RequestItems": {table: {**requests, "Keys": keep_keys}}})
        body["UnprocessedKeys"] = {table: {**requests, "Keys": rest_keys}}
        return status, body

    await proxied.save("docs", "warm", {})
    proxy.handler = halve
    proxy.calls.clear()
    docs = [{"_id": f"d{i}", "i": i} for i in range(20)]
    assert (await proxied.save_many("docs", docs)).ok
    assert proxy.count("BatchWriteItem") == 3
    got = await proxied.get_many("docs", [d["_id"] for d in docs])
    assert all(got[d["_id"]]["i"] == d["i"] for d in docs)
    assert proxy.count("BatchGetItem") == 3


async def test_items_left_unprocessed_past_the_bound_fail_alone(
    make_driver: MakeDriver, proxy: FaultProxy
) -> None:
    async def starve_d3(operation: str, payload: dict[str, Any], forward: Forward) -> Reply:
        if operation != "BatchWriteItem":
            return await forward(payload)
        ((table, requests),) = payload["RequestItems"].items()
        starved = [r for r in requests if r["PutRequest"]["Item"]["_id"]["S"] == "d3"]
        others = [r for r in requests if r not in starved]
        status, body = (200, {}) if not others else await forward({"RequestItems": {table: others}})
        if starved:
            body["UnprocessedItems"] = {table: starved}
        return status, body

    driver = make_driver(endpoint_url=proxy.url, max_retries=2)
    async with DatabaseService(PrefixMiddleware(driver, _prefix())) as db:
        await db.save("docs", "warm", {})
        proxy.handler = starve_d3
        proxy.calls.clear()
        result = await db.save_many("docs", [{"_id": f"d{i}"} for i in range(6)])
        assert [o.id for o in result.failed] == ["d3"]
        assert isinstance(result.failed[0].error, BackendUnavailableError)
        assert proxy.count("BatchWriteItem") == 4  # first call, then 3 rounds without progress
        proxy.handler = _passthrough
        got = await db.get_many("docs", [f"d{i}" for i in range(6)])
        assert [k for k, v in got.items() if v is None] == ["d3"]
        await db.drop_collection("docs")


# -- errors ----------------------------------------------------------------------------------
async def test_refused_credentials_raise_authentication_error_without_the_secret(
    make_driver: MakeDriver, proxy: FaultProxy
) -> None:
    secret = "s3cr3t-" + secrets.token_hex(8)

    async def refuse(operation: str, payload: dict[str, Any], forward: Forward) -> Reply:
        return error_reply(
            "UnrecognizedClientException", "The security token included in the request is invalid."
        )

    proxy.handler = refuse
    driver = make_driver(
        endpoint_url=proxy.url, aws_secret_access_key=secret, aws_session_token="tok-" + secret
    )
    async with DatabaseService(driver) as db:
        with pytest.raises(AuthenticationError) as caught:
            await db.get("docs", "a")
        assert proxy.calls == ["GetItem"]  # not retried
        with pytest.raises(AuthenticationError):
            await db.ping()
        for text in (str(caught.value), repr(driver), driver.describe(), repr(db)):
            assert secret not in text


async def test_an_unreachable_endpoint_is_unavailable_after_retries(
    make_driver: MakeDriver,
) -> None:
    driver = make_driver(endpoint_url=f"http://127.0.0.1:{free_port()}", max_retries=2)
    async with DatabaseService(driver) as db:
        with pytest.raises(BackendUnavailableError):
            await db.get("docs", "a")


async def test_an_item_over_dynamodbs_limit_is_too_large_and_fails_alone_in_a_batch(
    make_driver: MakeDriver,
) -> None:
    # The face refuses such documents first; the driver still maps DynamoDB's own refusal.
    driver = PrefixMiddleware(make_driver(), _prefix())
    try:
        await driver.put("docs", "warm", {})
        with pytest.raises(DocumentTooLargeError):
            await driver.put("docs", "big", {"s": "x" * 410_000})
        from asyncdb.drivers.base import WriteRequest

        outcomes = await driver.put_many(
            "docs", [WriteRequest("ok1", {}), WriteRequest("big", {"s": "x" * 410_000})]
        )
        assert outcomes[0].ok and outcomes[0].rev
        assert isinstance(outcomes[1].error, DocumentTooLargeError)
        assert await driver.get("docs", "ok1") is not None
    finally:
        await driver.drop_collection("docs")
        await driver.aclose()


async def test_concurrent_first_writes_from_two_drivers_share_one_new_table(
    make_driver: MakeDriver,
) -> None:
    prefix = _prefix()
    one = DatabaseService(PrefixMiddleware(make_driver(), prefix))
    two = DatabaseService(PrefixMiddleware(make_driver(), prefix))
    async with one, two:
        await asyncio.gather(
            *(
                svc.save("docs", f"{n}-{i}", {})
                for n, svc in enumerate((one, two))
                for i in range(5)
            )
        )
        assert len(await one.list_all("docs")) == 10
        await one.drop_collection("docs")
        # The other driver still believes the table exists: its next write re-creates it.
        await two.save("docs", "again", {})
        assert [d["_id"] for d in await one.list_all("docs")] == ["again"]
        await two.drop_collection("docs")


async def test_list_collections_names_the_tables(make_driver: MakeDriver) -> None:
    prefix = _prefix()
    async with DatabaseService(PrefixMiddleware(make_driver(), prefix)) as db:
        await db.save("alpha", "a", {})
        await db.save("beta", "b", {})
        assert await db.driver.list_collections() == ["alpha", "beta"]
        await db.drop_collection("alpha")
        await db.drop_collection("beta")


# -- configuration ---------------------------------------------------------------------------
def test_from_settings_needs_both_keys_and_redacts_the_endpoint() -> None:
    with pytest.raises(ConfigurationError, match="AWS_SECRET_ACCESS_KEY"):
        DynamoDBDriver.from_settings(Settings(aws_access_key_id="AKIAEXAMPLE"))
    driver = DynamoDBDriver.from_settings(
        Settings(
            dynamodb_region="eu-west-1",
            dynamodb_endpoint_url="http://user:pw@127.0.0.1:9/",
            aws_access_key_id="AKIAEXAMPLE",
            aws_secret_access_key="very-secret",
            request_timeout=3,
            max_retries=1,
        )
    )
    assert "eu-west-1" in driver.describe()
    assert "pw" not in driver.describe() and "very-secret" not in repr(driver)
