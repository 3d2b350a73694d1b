"""The PostgreSQL driver's native ``patch`` against a real server: one transaction under the
row's lock, retried as a whole only while nothing can have been applied, and never applied
twice after a lost ``COMMIT`` answer. (What a patch does on every backend is in
tests/test_native_patch.py and the conformance suite.)"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from asyncdb._service import DatabaseService
from asyncdb.drivers.postgres import PostgresDriver
from asyncdb.errors import BackendError, BackendUnavailableError, WriteOutcomeUnknownError
from tests.faults._proxy import FaultProxy, FaultRates

ITEMS = "items"
REVISION = re.compile(r"[1-9][0-9]*-[0-9a-f]{16}")

#: What a faulty COMMIT does: ``"lost"`` commits and loses the answer, ``"cut"`` loses
#: the connection before the COMMIT reaches the server, ``"refused"`` is a serialization
#: failure the server reports (it rolled back).
Fault = str


class _Connection:
    """A pooled connection whose next ``COMMIT``s fail as planned; everything else is the
    real connection's."""

    def __init__(self, real: Any, plan: list[Fault], seen: list[str]) -> None:
        self._real, self._plan, self._seen = real, plan, seen

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    async def execute(self, sql: str, *args: Any) -> Any:
        self._seen.append(sql)
        if sql != "COMMIT" or not self._plan:
            return await self._real.execute(sql, *args)
        fault = self._plan.pop(0)
        if fault == "lost":
            await self._real.execute(sql)
            raise ConnectionResetError("the answer to COMMIT was lost")
        if fault == "cut":
            raise ConnectionResetError("the connection broke before COMMIT was sent")
        raise asyncpg.SerializationError("could not serialize access")


class _Pool:
    def __init__(self, real: asyncpg.Pool, plan: list[Fault], seen: list[str]) -> None:
        self._real, self._plan, self._seen = real, plan, seen

    async def acquire(self) -> _Connection:
        return _Connection(await self._real.acquire(), self._plan, self._seen)

    async def release(self, connection: _Connection) -> None:
        await self._real.release(connection._real)


async def _faulty(
    driver: PostgresDriver, monkeypatch: pytest.MonkeyPatch, plan: list[Fault]
) -> list[str]:
    """Route the driver's statements through connections that fail ``plan``'s COMMITs;
    returns the ``execute`` statements they were given (BEGIN, COMMIT, ROLLBACK)."""
    await driver.open()
    transport = driver._transport
    pool = await transport._get_pool()
    seen: list[str] = []
    faulty = _Pool(pool, plan, seen)

    async def get_pool() -> Any:
        return faulty

    monkeypatch.setattr(transport, "_get_pool", get_pool)
    return seen


@pytest.fixture
def driver(make_driver: Callable[..., PostgresDriver]) -> PostgresDriver:
    return make_driver(max_retries=3)


@pytest.fixture
async def service(driver: PostgresDriver) -> Any:
    async with DatabaseService(driver, close_driver=False) as db:
        yield db


async def test_a_patch_is_one_transaction_with_a_put_s_revision(
    service: DatabaseService, driver: PostgresDriver, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = await service.save(ITEMS, "c", {"n": 1, "f": 1.0})
    seen = await _faulty(driver, monkeypatch, [])
    after = await service.patch(ITEMS, "c", increment={"n": 1, "f": 1})
    assert seen == ["BEGIN", "COMMIT"]
    assert REVISION.fullmatch(after["_rev"])
    assert int(after["_rev"].split("-")[0]) == int(before["_rev"].split("-")[0]) + 1
    assert (await service.get(ITEMS, "c")) == after


async def test_a_lost_commit_answer_is_recognised_and_not_applied_again(
    service: DatabaseService, driver: PostgresDriver, monkeypatch: pytest.MonkeyPatch
) -> None:
    await service.save(ITEMS, "c", {"n": 0})
    seen = await _faulty(driver, monkeypatch, ["lost"])
    patched = await service.patch(ITEMS, "c", increment={"n": 1})
    assert patched["n"] == 1
    assert seen.count("COMMIT") == 1  # the retry only read the row: its revision is ours
    assert await service.get(ITEMS, "c") == patched


async def test_a_commit_that_may_have_landed_is_outcome_unknown_never_resent(
    service: DatabaseService, driver: PostgresDriver, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = await service.save(ITEMS, "c", {"n": 0})
    seen = await _faulty(driver, monkeypatch, ["cut"])
    with pytest.raises(WriteOutcomeUnknownError):
        await service.patch(ITEMS, "c", increment={"n": 1})
    assert seen.count("COMMIT") == 1  # not sent again on a guess
    assert await service.get(ITEMS, "c") == before  # (this one never reached the server)


async def test_a_transaction_the_server_rolled_back_is_retried_and_applied_once(
    service: DatabaseService, driver: PostgresDriver, monkeypatch: pytest.MonkeyPatch
) -> None:
    await service.save(ITEMS, "c", {"n": 0})
    seen = await _faulty(driver, monkeypatch, ["refused", "refused"])
    assert (await service.patch(ITEMS, "c", increment={"n": 1}))["n"] == 1
    assert seen.count("COMMIT") == 3
    assert (await service.get(ITEMS, "c"))["n"] == 1


async def test_a_writer_holding_the_row_is_waited_for(
    service: DatabaseService, raw: asyncpg.Connection, table: str
) -> None:
    await service.save(ITEMS, "c", {"n": 0})
    async with raw.transaction():
        # Another client changes the row and holds its lock.
        await raw.execute(
            f'UPDATE "{table}" SET doc = \'{{"n":10}}\', body = \'{{"n":10}}\', '
            "rev = '7-0000000000000000' WHERE id = 'c'"
        )
        patching = asyncio.ensure_future(service.patch(ITEMS, "c", increment={"n": 1}))
        await asyncio.sleep(0.3)
        assert not patching.done()  # waiting for the row: it has not read the old body
    patched = await patching
    assert patched["n"] == 11 and patched["_rev"].startswith("8-")


async def test_a_row_asyncdb_did_not_write_is_not_patched(
    service: DatabaseService, raw: asyncpg.Connection, table: str
) -> None:
    await service.save(ITEMS, "c", {"n": 0})
    await raw.execute(f"UPDATE \"{table}\" SET doc = '[1]', body = '[1]' WHERE id = 'c'")
    with pytest.raises(BackendError, match="not an asyncdb document"):
        await service.patch(ITEMS, "c", increment={"n": 1})
    assert await raw.fetchval(f'SELECT doc FROM "{table}" WHERE id = $1', "c") == "[1]"


async def test_increments_through_a_faulty_network_are_never_lost_nor_doubled(
    postgres_url: str, table: str, raw: asyncpg.Connection
) -> None:
    # Resets, answers dropped after the server acted, cut-off answers and stalls past the
    # timeout, on every exchange at random: an acknowledged increment is always there, an
    # increment reported as not applied never is, and none counts twice.
    parts = urlsplit(postgres_url)
    assert parts.hostname is not None and parts.port is not None
    proxy = FaultProxy(parts.hostname, parts.port, seed=15)
    proxy.stall_seconds = 1.5
    proxy.start()
    credentials = parts.netloc.rpartition("@")[0]
    url = urlunsplit((parts.scheme, f"{credentials}@{proxy.host}", parts.path, parts.query, ""))
    outcomes = {"acked": 0, "unknown": 0, "not applied": 0}
    try:
        driver = PostgresDriver(
            url, table=table, request_timeout=1.0, connect_timeout=1.0, max_retries=4
        )
        async with DatabaseService(driver) as db:
            await db.save(ITEMS, "c", {"n": 0})
            proxy.set_rates(FaultRates(reset=0.04, drop=0.06, truncate=0.04, stall=0.01))

            async def writer() -> None:
                for _ in range(8):
                    try:
                        await db.patch(ITEMS, "c", increment={"n": 1})
                        outcomes["acked"] += 1
                    except WriteOutcomeUnknownError:
                        outcomes["unknown"] += 1
                    except BackendUnavailableError:
                        outcomes["not applied"] += 1

            await asyncio.gather(*(writer() for _ in range(8)))
            proxy.calm()
    finally:
        proxy.stop()
    stored = await raw.fetchval(f'SELECT doc FROM "{table}" WHERE id = $1', "c")
    n = json.loads(stored)["n"]
    assert sum(proxy.injected.values()) > 0  # faults did happen
    assert outcomes["acked"] > 0
    assert outcomes["acked"] <= n <= outcomes["acked"] + outcomes["unknown"], outcomes
