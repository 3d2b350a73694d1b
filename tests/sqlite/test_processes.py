"""Several processes on one file: two writers lose nothing (each its own documents, and
one shared counter both update), and a writer killed with SIGKILL keeps every write it
had acknowledged."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from asyncdb import DatabaseService
from asyncdb.drivers.sqlite import SQLiteDriver

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

_WRITER = textwrap.dedent(
    """
    import asyncio, sys
    from asyncdb import DatabaseService
    from asyncdb.drivers.sqlite import SQLiteDriver

    async def main(path, name, count):
        db = DatabaseService(SQLiteDriver(path, busy_timeout=10, max_retries=20))
        for n in range(count):
            await db.save("items", f"{name}-{n:05}", {"writer": name, "n": n})
            await db.update(
                "counters", "shared", lambda d: {**d, "n": d.get("n", 0) + 1},
                default={}, attempts=1000,
            )
            # Acknowledged: the save returned, so the write is in the file.
            print(f"{name}-{n:05}", flush=True)
        await db.aclose()

    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
    """
)


def _writer(path: Path, name: str, count: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(path), name, str(count)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


async def _read(path: Path) -> tuple[set[str], int]:
    db = DatabaseService(SQLiteDriver(str(path)))
    try:
        ids = {doc["_id"] async for doc in db.iter_all("items")}
        counter = await db.get("counters", "shared")
        return ids, counter["n"]
    finally:
        await db.aclose()


async def test_two_processes_writing_one_file_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite3"
    writers = [_writer(path, name, 150) for name in ("left", "right")]
    outputs = [writer.communicate(timeout=180) for writer in writers]
    for writer, (_, err) in zip(writers, outputs, strict=True):
        assert writer.returncode == 0, err
    acknowledged = {line for out, _ in outputs for line in out.split()}
    assert len(acknowledged) == 300
    ids, counter = await _read(path)
    assert ids == acknowledged
    assert counter == 300  # every read-modify-write of the shared counter landed once


async def test_a_killed_writer_keeps_every_acknowledged_write(tmp_path: Path) -> None:
    path = tmp_path / "killed.sqlite3"
    writer = _writer(path, "w", 100_000)
    acknowledged: list[str] = []
    assert writer.stdout is not None
    deadline = time.monotonic() + 60
    while len(acknowledged) < 200 and time.monotonic() < deadline:
        line = writer.stdout.readline()
        if not line:
            break
        acknowledged.append(line.strip())
    writer.send_signal(signal.SIGKILL)  # mid-write: no clean shutdown, no close
    rest, err = writer.communicate(timeout=30)
    acknowledged += rest.split()
    assert writer.returncode == -signal.SIGKILL, err
    assert len(acknowledged) >= 200, err
    ids, counter = await _read(path)
    missing = set(acknowledged) - ids
    assert not missing, json.dumps(sorted(missing)[:5])
    # The counter is updated after each save and before its acknowledgement.
    assert counter >= len(acknowledged)
