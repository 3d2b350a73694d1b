"""A script that never closes its blocking facade still exits, and the facade is closed
(its service's ``aclose`` runs) on the way out."""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    from asyncdb import Settings, SyncDatabaseService

    db = SyncDatabaseService(Settings(database_provider="memory"))
    db.save("things", "a", {"v": 1})
    original_aclose = db.service.aclose

    async def noting_aclose():
        print("closed", flush=True)
        await original_aclose()

    db.service.aclose = noting_aclose
    print("saved", flush=True)
    """
)


def test_an_unclosed_facade_does_not_keep_the_interpreter_from_exiting() -> None:
    # Before the shutdown hook this process hung at exit until the timeout.
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["saved", "closed"]
