"""The SQLite driver's native ``patch``: one ``BEGIN IMMEDIATE`` transaction, retried as a
whole only when SQLite rolled it back, never applied twice, and ``WriteOutcomeUnknownError``
when the commit's outcome is unknown. (What a patch does on every backend is in
tests/test_native_patch.py and the conformance suite.)"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sqlite3
import sys
import textwrap
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from asyncdb import DatabaseService
from asyncdb.drivers.sqlite import SQLiteDriver
from asyncdb.drivers.sqlite._tables import table
from asyncdb.errors import BackendError, WriteOutcomeUnknownError

ITEMS = "items"
REVISION = re.compile(r"[1-9][0-9]*-[0-9a-f]{16}")
_BUSY, _IOERR = 5, 10


@pytest.fixture
async def driver(sqlite_path: Path) -> AsyncIterator[SQLiteDriver]:
    driver = SQLiteDriver(str(sqlite_path), busy_timeout=2.0)
    yield driver
    await driver.aclose()


@pytest.fixture
async def db(driver: SQLiteDriver) -> AsyncIterator[DatabaseService]:
    async with DatabaseService(driver, close_driver=False) as service:
        yield service


def _error(code: int, text: str) -> sqlite3.OperationalError:
    error = sqlite3.OperationalError(text)
    error.sqlite_errorcode = code  # what SQLite sets on a real one
    return error


async def _failing_commits(
    driver: SQLiteDriver, monkeypatch: pytest.MonkeyPatch, errors: list[sqlite3.Error]
) -> list[str]:
    """Make the next ``COMMIT``s of the driver's connection fail with ``errors`` (without
    committing: SQLite keeps the transaction open, and the driver rolls it back); returns
    the statements the connection was given, in order."""
    connection = await driver._transport.connection()
    real: Callable[..., Awaitable[Any]] = connection.execute
    seen: list[str] = []

    async def execute(sql: str, *args: Any) -> Any:
        seen.append(sql)
        if sql == "COMMIT" and errors:
            raise errors.pop(0)
        return await real(sql, *args)

    monkeypatch.setattr(connection, "execute", execute)
    return seen


async def test_a_patch_is_one_immediate_transaction_with_a_put_s_revision(
    db: DatabaseService, driver: SQLiteDriver, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = await db.save(ITEMS, "c", {"n": 1})
    seen = await _failing_commits(driver, monkeypatch, [])
    after = await db.patch(ITEMS, "c", increment={"n": 1})
    assert seen == ["BEGIN IMMEDIATE", "COMMIT"]  # the read and write run inside it
    assert REVISION.fullmatch(after["_rev"])
    assert int(after["_rev"].split("-")[0]) == int(before["_rev"].split("-")[0]) + 1


async def test_a_commit_sqlite_rolled_back_is_retried_and_applied_once(
    db: DatabaseService, driver: SQLiteDriver, monkeypatch: pytest.MonkeyPatch
) -> None:
    await db.save(ITEMS, "c", {"n": 0})
    seen = await _failing_commits(driver, monkeypatch, [_error(_BUSY, "database is locked")])
    assert (await db.patch(ITEMS, "c", increment={"n": 1}))["n"] == 1
    assert seen.count("ROLLBACK") == 1 and seen.count("COMMIT") == 2
    assert (await db.get(ITEMS, "c"))["n"] == 1


async def test_a_commit_whose_outcome_is_unknown_is_never_applied_again(
    db: DatabaseService, driver: SQLiteDriver, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = await db.save(ITEMS, "c", {"n": 0})
    seen = await _failing_commits(driver, monkeypatch, [_error(_IOERR, "disk I/O error")])
    with pytest.raises(WriteOutcomeUnknownError):
        await db.patch(ITEMS, "c", increment={"n": 1})
    assert seen.count("COMMIT") == 1  # no second attempt on a guess
    assert await db.get(ITEMS, "c") == before  # (this fault rolled back)


async def test_a_writer_holding_the_file_lock_is_waited_for(
    db: DatabaseService, sqlite_path: Path
) -> None:
    await db.save(ITEMS, "c", {"n": 0})
    locked, release = threading.Event(), threading.Event()

    def other_process() -> None:
        # Another connection (as another process would) writes the document under its
        # write lock, and holds the lock a while before committing.
        other = sqlite3.connect(sqlite_path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        name = table(ITEMS)
        other.execute(f"UPDATE {name} SET body = ?, rev = '9-' || rev WHERE id = 'c'", ['{"n":10}'])
        locked.set()
        release.wait(5)
        other.execute("COMMIT")
        other.close()

    thread = threading.Thread(target=other_process)
    thread.start()
    await asyncio.to_thread(locked.wait, 5)
    patching = asyncio.ensure_future(db.patch(ITEMS, "c", increment={"n": 1}))
    await asyncio.sleep(0.2)
    assert not patching.done()  # waiting on the lock: it has not read the old body
    release.set()
    started = time.monotonic()
    patched = await patching
    await asyncio.to_thread(thread.join)
    assert patched["n"] == 11 and time.monotonic() - started < 2.0
    assert (await db.get(ITEMS, "c"))["n"] == 11


async def test_a_row_asyncdb_did_not_write_is_not_patched(
    db: DatabaseService, sqlite_path: Path
) -> None:
    await db.save(ITEMS, "c", {"n": 0})
    with contextlib.closing(sqlite3.connect(sqlite_path, isolation_level=None)) as other:
        other.execute(f"UPDATE {table(ITEMS)} SET body = '[1, 2]' WHERE id = 'c'")
    with pytest.raises(BackendError, match="not written by asyncdb"):
        await db.patch(ITEMS, "c", increment={"n": 1})
    with contextlib.closing(sqlite3.connect(sqlite_path, isolation_level=None)) as other:
        assert other.execute(f"SELECT body FROM {table(ITEMS)}").fetchall() == [("[1, 2]",)]


_PATCHER = textwrap.dedent(
    """
    import asyncio, sys
    from asyncdb import DatabaseService
    from asyncdb.drivers.sqlite import SQLiteDriver

    async def main(path):
        db = DatabaseService(SQLiteDriver(path, busy_timeout=10, max_retries=20))
        while True:
            await db.patch("items", "c", increment={"n": 1}, attempts=1)
            print("acked", flush=True)  # the patch returned: it is in the file

    asyncio.run(main(sys.argv[1]))
    """
)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
async def test_processes_patching_one_file_lose_nothing_even_when_one_is_killed(
    db: DatabaseService, sqlite_path: Path
) -> None:
    # Two processes patch one counter while this one does too; one is killed with SIGKILL
    # mid-stream. Every acknowledged increment is in the file, none counts twice: the
    # killed one's last increment at most is in doubt.
    await db.save(ITEMS, "c", {"n": 0})
    environment = {**os.environ, "PYTHONUNBUFFERED": "1"}
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            _PATCHER,
            str(sqlite_path),
            stdout=asyncio.subprocess.PIPE,
            env=environment,
        )
        for _ in range(2)
    ]
    survivor, victim = processes
    ours, acked_before = 0, 0
    try:
        for process in processes:  # both are patching before anything is killed
            assert process.stdout is not None
            assert await asyncio.wait_for(process.stdout.readline(), 30) == b"acked\n"
            acked_before += 1
        for _ in range(40):
            await db.patch(ITEMS, "c", increment={"n": 1}, attempts=1)
            ours += 1
        victim.send_signal(signal.SIGKILL)
        survivor.terminate()
    finally:
        outputs = [(await process.communicate())[0].decode() for process in processes]
    acked = acked_before + ours + sum(output.count("acked") for output in outputs)
    n = (await db.get(ITEMS, "c"))["n"]
    # The survivor may have been stopped (SIGTERM) after a commit, before its print.
    assert acked <= n <= acked + 2
