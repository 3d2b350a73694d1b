"""A server of this test's own, killed with SIGKILL and started again over its data: the
same service fails clearly while it is down and answers again once it is back, with every
acknowledged write still there."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from asyncdb._service import DatabaseService
from asyncdb.drivers.postgres import PostgresDriver
from asyncdb.errors import BackendUnavailableError, WriteOutcomeUnknownError
from tests.backends import postgres
from tests.backends._process import unavailable


@pytest.fixture
def own_server() -> Iterator[tuple[postgres.PostgresServer, str]]:
    if os.environ.get(postgres.ENV_VAR):
        pytest.skip("the suite is pointed at an external server, which it may not kill")
    scratch = Path(tempfile.mkdtemp(prefix="asyncdb-pg-restart-"))
    try:
        try:
            server, url = postgres.postgres_managed(scratch)
            server.start()
        except Exception as exc:  # fail under CI, skip elsewhere
            unavailable("postgres (restart test)", f"{type(exc).__name__}: {exc}")
            raise
        try:
            yield server, url
        finally:
            server.stop()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


async def test_a_killed_server_comes_back_with_every_acknowledged_write(
    own_server: tuple[postgres.PostgresServer, str],
) -> None:
    server, url = own_server
    db = DatabaseService(PostgresDriver(url, max_retries=1, connect_timeout=2.0))
    try:
        saved = [await db.save("things", f"d{i}", {"n": i}) for i in range(20)]
        server.kill()
        # An idle pool: the loop sees its connections closed (a statement sent on a
        # connection not yet known to be dead would be ambiguous, rightly).
        await asyncio.sleep(0.2)
        # Nothing listens: no statement was sent, so a write is plainly unavailable.
        with pytest.raises(BackendUnavailableError) as caught:
            await db.save("things", "while-down", {"n": -1})
        assert not isinstance(caught.value, WriteOutcomeUnknownError)
        await asyncio.to_thread(server.start)
        # The pool's dead connections are replaced; the same service answers again.
        docs = await db.list_all("things")
        assert [(d["_id"], d["_rev"]) for d in docs] == sorted((s["_id"], s["_rev"]) for s in saved)
        again = await db.save("things", "d0", {"n": 100, "_rev": saved[0]["_rev"]})
        assert again["_rev"].startswith("2-")
    finally:
        await db.aclose()
