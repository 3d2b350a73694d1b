"""A client the user opened and owns (``DynamoDBDriver(client=...)``): the driver works over
it, retries through it, and never closes it — what the library did not open, it does not
close. The driver's own client, by contrast, is closed by ``aclose()``."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable
from typing import Any

import aioboto3
import boto3
import pytest
from botocore.config import Config

from asyncdb._service import DatabaseService
from asyncdb.drivers.dynamodb import DynamoDBDriver
from asyncdb.errors import ConfigurationError
from asyncdb.middleware.prefix import PrefixMiddleware
from tests.backends.dynamodb import DynamoDBEndpoint
from tests.dynamodb._proxy import FaultProxy, Forward, Reply, error_reply
from tests.dynamodb.conftest import KINDS

MakeDriver = Callable[..., DynamoDBDriver]

#: The emulator makes no difference to who owns a client: the first one is enough.
pytestmark = pytest.mark.parametrize("dynamodb_endpoint", KINDS[:1], indirect=True)


def _session(endpoint: DynamoDBEndpoint) -> tuple[aioboto3.Session, dict[str, Any]]:
    """A session and ``client()`` arguments as a user would write them for ``endpoint``."""
    kwargs = endpoint.driver_kwargs()
    session = aioboto3.Session(
        region_name=kwargs["region"],
        aws_access_key_id=kwargs.get("aws_access_key_id"),
        aws_secret_access_key=kwargs.get("aws_secret_access_key"),
    )
    config = Config(retries={"total_max_attempts": 1})
    return session, {"endpoint_url": kwargs["endpoint_url"], "config": config}


def _http_sessions(client: Any) -> list[Any]:
    """The aiohttp sessions a client holds open (aiobotocore opens one on the first request
    and closes them all when the client is closed; a closed client would open new ones on
    its next request, so being usable afterwards alone would not prove it was left open)."""
    sessions: list[Any] = list(client._endpoint.http_session._sessions.values())
    assert sessions, "the client has not sent a request yet"
    return sessions


@pytest.fixture
async def users_client(dynamodb_endpoint: DynamoDBEndpoint) -> AsyncIterator[Any]:
    session, kwargs = _session(dynamodb_endpoint)
    async with session.client("dynamodb", **kwargs) as client:
        yield client


async def test_a_users_client_is_used_and_still_open_after_aclose(users_client: Any) -> None:
    prefix = f"t{secrets.token_hex(5)}_"
    driver = DynamoDBDriver(client=users_client, backoff_base=0.005, backoff_cap=0.05)
    async with DatabaseService(PrefixMiddleware(driver, prefix)) as db:
        saved = await db.save("docs", "a", {"k": 1})  # creates the table, through the client
        assert (await db.get("docs", "a"))["k"] == 1
        assert (await db.save_many("docs", [{"_id": "b"}, {"_id": "c"}])).ok
        assert users_client.meta.endpoint_url in driver.describe()
        sessions = _http_sessions(users_client)
    # The service (hence the driver) is closed; the user's client is not.
    assert not any(session.closed for session in sessions)
    assert _http_sessions(users_client) == sessions
    item = await users_client.get_item(
        TableName=prefix + "docs", Key={"_id": {"S": "a"}}, ConsistentRead=True
    )
    assert item["Item"]["_rev"] == {"S": saved["_rev"]}
    await users_client.delete_table(TableName=prefix + "docs")


async def test_the_drivers_own_client_is_closed_by_aclose(make_driver: MakeDriver) -> None:
    driver = make_driver()
    await driver.open()
    own = await driver._transport.client()
    await own.list_tables(Limit=1)
    sessions = _http_sessions(own)
    assert not any(session.closed for session in sessions)
    await driver.aclose()
    assert all(session.closed for session in sessions)
    # A driver closed and used again opens a client of its own anew.
    await driver.open()
    assert await driver._transport.client() is not own
    await driver.aclose()


async def test_calls_over_a_users_client_are_retried_by_the_driver(
    dynamodb_endpoint: DynamoDBEndpoint,
) -> None:
    throttles = {"left": 2}

    async def throttle(operation: str, payload: dict[str, Any], forward: Forward) -> Reply:
        if operation == "ListTables" and throttles["left"] > 0:
            throttles["left"] -= 1
            return error_reply("ThrottlingException", "Rate of requests exceeds the allowed rate")
        return await forward(payload)

    session, kwargs = _session(dynamodb_endpoint)
    async with FaultProxy(dynamodb_endpoint.url) as proxy:
        proxy.handler = throttle
        async with session.client("dynamodb", **{**kwargs, "endpoint_url": proxy.url}) as client:
            driver = DynamoDBDriver(client=client, backoff_base=0.005, backoff_cap=0.05)
            async with DatabaseService(driver) as db:
                await db.ping()
            assert proxy.calls == ["ListTables"] * 3


async def test_settings_a_given_client_would_override_are_refused(users_client: Any) -> None:
    with pytest.raises(ConfigurationError, match="endpoint_url"):
        DynamoDBDriver(client=users_client, endpoint_url="http://127.0.0.1:1")
    with pytest.raises(ConfigurationError, match="aws_access_key_id"):
        DynamoDBDriver(client=users_client, aws_access_key_id="a", aws_secret_access_key="b")
    with pytest.raises(ConfigurationError, match="profile"):
        DynamoDBDriver(client=users_client, profile="dev")


async def test_a_client_that_is_not_an_entered_async_client_is_refused(
    dynamodb_endpoint: DynamoDBEndpoint,
) -> None:
    session, kwargs = _session(dynamodb_endpoint)
    not_entered = session.client("dynamodb", **kwargs)
    with pytest.raises(ConfigurationError, match="entered"):
        DynamoDBDriver(client=not_entered)
    async with not_entered:
        pass  # what the user forgot (and no coroutine left unawaited)
    blocking = boto3.client("dynamodb", region_name="us-east-1")
    async with session.client("s3", **kwargs) as other_service:
        for wrong in (blocking, other_service, object()):
            with pytest.raises(ConfigurationError, match="entered"):
                DynamoDBDriver(client=wrong)
