"""Tables: which ones this driver knows to exist, and creating and deleting them.

Both CreateTable and DeleteTable only start a change; the table is CREATING or DELETING
for seconds on AWS. Creation is waited for until ACTIVE, so that the write that needed the
table can follow; deletion is waited for until the table is gone, so that a drop is
finished when it returns (ListTables would still name a DELETING table, and CreateTable
refuses one). Existence is cached: a normal operation never calls DescribeTable (only
creating or dropping a table, and ``ensure_index`` waiting for its index, do).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Any

from asyncdb.drivers.dynamodb._codec import ID_ATTRIBUTE
from asyncdb.drivers.dynamodb._errors import TableBusy, TableMissing
from asyncdb.drivers.dynamodb._transport import Transport
from asyncdb.errors import BackendUnavailableError

__all__ = ["Tables"]

logger = logging.getLogger("asyncdb")


class Tables:
    """The table lifecycle of one driver; ``wait`` bounds each creation or deletion."""

    def __init__(self, transport: Transport, wait: float) -> None:
        self._transport = transport
        self._wait = wait
        self._known: set[str] = set()
        self._locks: dict[str, asyncio.Lock] = {}

    def add(self, table: str) -> None:
        """Remember that ``table`` exists (a write to it just succeeded)."""
        self._known.add(table)

    def forget(self, table: str) -> None:
        """``table`` turned out to be missing."""
        self._known.discard(table)

    async def names(self) -> list[str]:
        """Every table of the account and region, sorted."""
        names: list[str] = []
        params: dict[str, Any] = {}
        while True:
            response = await self._transport.call("list_tables", "", params)
            names.extend(response.get("TableNames", ()))
            last = response.get("LastEvaluatedTableName")
            if not last:
                return sorted(names)
            params["ExclusiveStartTableName"] = last

    async def describe(self, table: str) -> dict[str, Any] | None:
        """The table's description (``None``: no such table)."""
        try:
            response = await self._transport.call("describe_table", table, {"TableName": table})
        except TableMissing:
            return None
        description: dict[str, Any] = response["Table"]
        return description

    async def ensure(self, table: str, *, index: Mapping[str, Any] | None = None) -> None:
        """Create ``table`` and wait until it is ACTIVE; concurrent callers share the work.
        ``index`` (``GlobalSecondaryIndexes`` and its ``AttributeDefinitions``) is created
        with a table this call creates; a table that exists already is left as it is."""
        lock = self._locks.get(table)
        if lock is None:
            lock = self._locks[table] = asyncio.Lock()
        async with lock:
            if table in self._known:
                return  # another task created it while this one waited
            deadline = asyncio.get_running_loop().time() + self._wait
            while True:
                status: str | None = None
                params: dict[str, Any] = {
                    "TableName": table,
                    "KeySchema": [{"AttributeName": ID_ATTRIBUTE, "KeyType": "HASH"}],
                    "AttributeDefinitions": [{"AttributeName": ID_ATTRIBUTE, "AttributeType": "S"}],
                    "BillingMode": "PAY_PER_REQUEST",
                }
                if index is not None:
                    params["AttributeDefinitions"] += index["AttributeDefinitions"]
                    params["GlobalSecondaryIndexes"] = index["GlobalSecondaryIndexes"]
                try:
                    response = await self._transport.call("create_table", table, params)
                    status = response.get("TableDescription", {}).get("TableStatus")
                    logger.info("created DynamoDB table %r", table)
                except TableBusy:
                    pass  # a concurrent creator (or a deletion still running)
                if status == "ACTIVE" or await self._wait_active(table, deadline):
                    self._known.add(table)
                    return

    async def drop(self, table: str) -> None:
        """Delete ``table`` and wait until it is gone; a missing table is fine."""
        self._known.discard(table)
        deadline = asyncio.get_running_loop().time() + self._wait
        while True:
            try:
                await self._transport.call("delete_table", table, {"TableName": table})
                await self._wait_gone(table, deadline)
                logger.info("deleted DynamoDB table %r", table)
                return
            except TableMissing:
                return
            except TableBusy:
                # CREATING: wait until ACTIVE, then delete it. DELETING: wait until gone.
                if not await self._wait_active(table, deadline):
                    return
            finally:
                self._known.discard(table)

    async def _wait_active(self, table: str, deadline: float) -> bool:
        """Poll until ACTIVE (True) or gone (False: create it again, or nothing to drop)."""
        found = await self.wait_for(
            table,
            deadline,
            f"become ACTIVE within {self._wait}s",
            lambda status: status in (None, "ACTIVE"),
        )
        return found is not None and found["TableStatus"] == "ACTIVE"

    async def _wait_gone(self, table: str, deadline: float) -> None:
        """Poll until a deleted table has left DELETING. Any other status means another
        process has created it again already, which is fine for a drop that happened."""
        await self.wait_for(
            table, deadline, f"finish deleting within {self._wait}s", lambda s: s != "DELETING"
        )

    async def wait_for(
        self,
        table: str,
        deadline: float,
        goal: str,
        settled: Callable[[str | None], bool],
        *,
        look: Callable[[dict[str, Any] | None], str | None] | None = None,
        slowest: float = 1.0,
    ) -> dict[str, Any] | None:
        """Poll DescribeTable until ``settled(status)`` (the table's status, or what
        ``look`` reads in the description); the last description (``None``: the table is
        gone). ``slowest``: the longest pause between two polls."""
        loop = asyncio.get_running_loop()
        # A poll interval, not a retry back-off: every DescribeTable here succeeded (its own
        # failures are retried by the transport), the table is still changing state, and the
        # wait is bounded by ``deadline`` rather than by DATABASE_MAX_RETRIES. It starts
        # short because the emulators settle at once, and needs no jitter: nobody else's
        # requests are being spread out.
        delay = 0.02
        while True:
            description = await self.describe(table)
            if look is not None:
                status = look(description)
            else:
                status = None if description is None else description["TableStatus"]
            if settled(status):
                return description
            if loop.time() + delay > deadline:
                raise BackendUnavailableError(f"DynamoDB table {table!r} did not {goal}")
            await asyncio.sleep(delay)
            delay = min(delay * 2, slowest)
