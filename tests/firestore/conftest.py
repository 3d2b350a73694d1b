"""The Firestore emulator for this test session: Google's emulator jar started here, or
the one named by ``ASYNCDB_TEST_FIRESTORE_EMULATOR_HOST`` (then nothing is started)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.servers._process import unavailable
from tests.servers.firestore import firestore_emulator


@pytest.fixture(scope="session")
def firestore_host() -> Iterator[str]:
    """``host:port`` of a running Firestore emulator."""
    try:
        server = firestore_emulator()
        host = server.__enter__()
    except Exception as exc:
        unavailable("firestore", f"{type(exc).__name__}: {exc}")
        raise  # unreachable: unavailable() fails or skips
    try:
        yield host
    finally:
        server.__exit__(None, None, None)
