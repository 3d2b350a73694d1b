"""``client=``: a driver over an ``aiohttp.ClientSession`` the caller opened and owns.

The rule under test: what the library did not open, it does not close. The driver's own
requests keep their address, credentials, timeout and headers whatever the caller's
session defaults to, and its write-outcome guarantees hold over that session too."""

from __future__ import annotations

import secrets
import ssl
import warnings
from collections.abc import AsyncIterator

import aiohttp
import pytest

from asyncdb._service import DatabaseService
from asyncdb.drivers.couchdb import CouchDBDriver
from asyncdb.drivers.couchdb._transport import ServerAddress, parse_server_url
from asyncdb.errors import AuthenticationError, ConfigurationError, WriteOutcomeUnknownError
from asyncdb.middleware.prefix import PrefixMiddleware
from tests.backends._process import free_port
from tests.couchdb._proxy import FaultProxy


@pytest.fixture
def address(couchdb_url: str) -> ServerAddress:
    return parse_server_url(couchdb_url, None, None)


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """A caller's session whose defaults would break the driver's requests if they were
    used: another base URL, a timeout no request can meet, a marker header."""
    own = aiohttp.ClientSession(
        base_url=f"http://127.0.0.1:{free_port()}",  # nothing listens there
        timeout=aiohttp.ClientTimeout(total=1e-6),
        headers={"X-Caller": "mine", "Accept": "text/plain"},
    )
    yield own
    await own.close()


def _service(driver: CouchDBDriver, prefix: str) -> DatabaseService:
    return DatabaseService(PrefixMiddleware(driver, prefix))


async def test_a_driver_over_the_callers_session_works_and_leaves_it_open(
    session: aiohttp.ClientSession, proxy: FaultProxy, address: ServerAddress, prefix: str
) -> None:
    driver = CouchDBDriver(proxy.url, user=address.user, password=address.password, client=session)
    async with _service(driver, prefix) as db:
        saved = await db.save("items", "a", {"v": 1})
        assert await db.get("items", "a") == saved
        await db.drop_collection("items")
    assert proxy.seen  # the requests went to the driver's URL, not the session's base URL
    # ... through the caller's session (its header), with the driver's own JSON headers.
    assert {seen.headers.get("X-Caller") for seen in proxy.seen} == {"mine"}
    assert {seen.headers.get("Accept") for seen in proxy.seen} == {"application/json"}
    assert not session.closed
    async with session.get(proxy.url + "/", timeout=aiohttp.ClientTimeout(total=10)) as reply:
        assert reply.status == 200  # still usable by its owner


async def test_the_drivers_own_session_is_closed_by_aclose(
    proxy: FaultProxy, address: ServerAddress
) -> None:
    driver = CouchDBDriver(proxy.url, user=address.user, password=address.password)
    async with DatabaseService(driver) as db:
        await db.ping()
        own = driver._transport.session()
        assert not own.closed
    assert own.closed


async def test_the_callers_session_carries_the_drivers_credentials(
    session: aiohttp.ClientSession, address: ServerAddress
) -> None:
    # Credentials of a user the server does not know are refused: the driver sent them.
    secret = "s3cret-" + secrets.token_hex(4)
    user = "nobody-" + secrets.token_hex(3)
    driver = CouchDBDriver(address.base_url, user=user, password=secret, client=session)
    assert secret not in repr(driver)
    async with DatabaseService(driver) as db:
        with pytest.raises(AuthenticationError) as caught:
            await db.get("items", "a")
        assert user in str(caught.value) and secret not in str(caught.value)
    assert not session.closed


async def test_a_lost_reply_over_the_callers_session_is_still_unknown(
    session: aiohttp.ClientSession, proxy: FaultProxy, address: ServerAddress, prefix: str
) -> None:
    # aiohttp would resend the lost PUT by itself and hand back the 409 its first attempt
    # caused; the driver turns that off on the caller's session as on its own.
    driver = CouchDBDriver(
        proxy.url, user=address.user, password=address.password, client=session, max_retries=2
    )
    async with _service(driver, prefix) as db:
        first = await db.save("items", "a", {"v": 1})
        proxy.lose_reply_next(1)
        with pytest.raises(WriteOutcomeUnknownError):
            await db.save("items", "a", {"v": 2, "_rev": first["_rev"]})
        assert (await db.get("items", "a"))["v"] == 2
        await db.drop_collection("items")


async def test_options_of_the_drivers_own_session_are_refused_with_a_client(
    session: aiohttp.ClientSession, address: ServerAddress
) -> None:
    with pytest.raises(ConfigurationError, match="client="):
        CouchDBDriver(address.base_url, client=session, ssl_context=ssl.create_default_context())
    with pytest.raises(ConfigurationError, match="client="):
        CouchDBDriver(address.base_url, client=session, verify_tls=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # aiohttp 3.14 deprecates auth=
        with_auth = aiohttp.ClientSession(auth=aiohttp.BasicAuth("someone", "pw"))
    try:
        with pytest.raises(ConfigurationError, match="auth"):
            CouchDBDriver(address.base_url, user="app", password="pw", client=with_auth)
        CouchDBDriver(address.base_url, client=with_auth)  # the session's auth alone is fine
    finally:
        await with_auth.close()


async def test_a_closed_callers_session_is_a_clear_error(address: ServerAddress) -> None:
    closed = aiohttp.ClientSession()
    await closed.close()
    driver = CouchDBDriver(address.base_url, client=closed)
    with pytest.raises(ConfigurationError, match="client= is closed"):
        await DatabaseService(driver).open()
