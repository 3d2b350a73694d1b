"""SQLite's fault run: no server and no network, so its faults are other processes on the
same file.

- ``lock``: another connection holds the write lock (``BEGIN EXCLUSIVE``) for up to six
  busy timeouts, then lets go without writing: the writers wait, or fail with a plain
  "unavailable", which must then not have been applied;
- ``kill``: a writer process of its own (``python -c``, the same driver on the same file)
  saves documents and prints each acknowledgement; it is killed with SIGKILL mid-write.
  Every write it printed as acknowledged goes into the run's history, the one it was in
  the middle of as unknown, so the final check proves that a killed writer process loses
  no acknowledged write (and leaves the file usable for the others).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import shutil
import signal
import sqlite3
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from asyncdb.drivers.base import Driver
from asyncdb.errors import WriteOutcomeUnknownError
from tests.faults._history import Op, Write
from tests.faults._targets import MAX_RETRIES, Target

__all__ = ["SQLITE_BUSY_TIMEOUT", "sqlite_target"]

#: SQLite's busy timeout in a fault run: the ``lock`` episodes hold the lock longer.
SQLITE_BUSY_TIMEOUT = 0.5

_WRITER = """
import asyncio, sys
from asyncdb._service import DatabaseService
from asyncdb.drivers.sqlite import SQLiteDriver

async def main(path, collection, name):
    db = DatabaseService(SQLiteDriver(path, busy_timeout=5.0))
    n = 0
    while True:
        n += 1
        doc_id, tag = f"k.{name}.{n}", f"{name}.{n}"
        print("begin", doc_id, tag, flush=True)
        saved = await db.save(collection, doc_id, {"owner": doc_id, "tag": tag, "writer": name})
        print("acked", doc_id, tag, saved["_rev"], flush=True)

asyncio.run(main(*sys.argv[1:4]))
"""


@contextlib.contextmanager
def sqlite_target() -> Iterator[Target]:
    from asyncdb.drivers.sqlite import SQLiteDriver

    scratch = Path(tempfile.mkdtemp(prefix="asyncdb-faults-sqlite-"))
    path = scratch / "faults.sqlite3"
    killed = [0]

    def make() -> Driver:
        return SQLiteDriver(str(path), busy_timeout=SQLITE_BUSY_TIMEOUT, max_retries=MAX_RETRIES)

    async def lock(rng: random.Random) -> None:
        held = rng.uniform(0.5, 6.0) * SQLITE_BUSY_TIMEOUT
        await asyncio.to_thread(_hold_write_lock, path, held)

    async def kill(rng: random.Random) -> None:
        killed[0] += 1
        await _killed_writer(chosen, path, f"killed{killed[0]}", rng.uniform(0.05, 0.5))

    chosen = Target("sqlite", make, own_faults={"lock": lock, "kill": kill})
    try:
        yield chosen
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _hold_write_lock(path: Path, seconds: float) -> None:
    connection = sqlite3.connect(path, timeout=30, isolation_level=None)
    try:
        connection.execute("BEGIN EXCLUSIVE")
        time.sleep(seconds)
        connection.execute("ROLLBACK")
    finally:
        connection.close()


async def _killed_writer(target: Target, path: Path, name: str, after: float) -> None:
    """Run a writer process until its first acknowledgement plus ``after`` seconds, kill
    it with SIGKILL, and record what it said into the run's history."""
    history = target.history
    if history is None:
        return
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _WRITER,
        str(path),
        target.collection,
        name,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 60
    try:
        # Its first acknowledgement (the interpreter and asyncdb take a while to start).
        while not any(line.startswith("acked") for line in lines):
            remaining = deadline - time.monotonic()
            line = await asyncio.wait_for(process.stdout.readline(), timeout=max(remaining, 0.1))
            if not line:
                break
            lines.append(line.decode().strip())
        await asyncio.sleep(after)
    finally:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGKILL)
        rest, _ = await process.communicate()
    lines.extend(rest.decode(errors="replace").splitlines())
    _record(target, name, lines)


def _record(target: Target, name: str, lines: list[str]) -> None:
    history = target.history
    assert history is not None
    pending: dict[str, tuple[Op, Write]] = {}
    for line in lines:
        parts = line.split()
        if len(parts) == 3 and parts[0] == "begin":
            _, doc_id, tag = parts
            op = history.begin(tag, "save", name, doc_id=doc_id)
            pending[doc_id] = (op, history.write(op, doc_id, tag))
        elif len(parts) == 4 and parts[0] == "acked" and parts[1] in pending:
            _, doc_id, _tag, rev = parts
            op, write = pending.pop(doc_id)
            write.outcome = history.end(op, None, rev=rev)
            write.rev = rev
    for op, write in pending.values():
        # Killed in the middle of it: it may or may not have landed.
        write.outcome = history.end(op, WriteOutcomeUnknownError("the writer was killed"))
