"""The event loop stays free while the driver connects to Google: credentials (files, and
perhaps the metadata server) are loaded in a worker thread, never on the loop's own
thread. Behaviour, not time: each load records the thread it ran on. No network: gRPC
channels connect on their first RPC, and none is made here."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import google.auth
import pytest
from google.auth.credentials import AnonymousCredentials

from asyncdb.drivers.firestore._transport import ConnectionConfig, connect


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Every credentials load from now on: (which loader, thread id); each answers
    anonymous credentials for project ``demo-loop``."""
    seen: list[tuple[str, int]] = []

    def default(**_: Any) -> tuple[Any, str]:
        seen.append(("default", threading.get_ident()))
        return AnonymousCredentials(), "demo-loop"  # type: ignore[no-untyped-call]

    def from_file(path: str, **_: Any) -> tuple[Any, str]:
        seen.append(("file", threading.get_ident()))
        return AnonymousCredentials(), "demo-loop"  # type: ignore[no-untyped-call]

    monkeypatch.setattr(google.auth, "default", default)
    monkeypatch.setattr(google.auth, "load_credentials_from_file", from_file)
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    return seen


async def test_application_default_credentials_load_off_the_loop(
    loads: list[tuple[str, int]],
) -> None:
    connection = await connect(ConnectionConfig(None, "(default)", None))
    try:
        assert connection.project == "demo-loop"
        assert [name for name, _ in loads] == ["default"]
        assert loads[0][1] != threading.get_ident()
    finally:
        await connection.close()


async def test_a_credentials_file_loads_off_the_loop(
    loads: list[tuple[str, int]], tmp_path: Path
) -> None:
    config = ConnectionConfig("demo-loop", "(default)", None, str(tmp_path / "key.json"))
    connection = await connect(config)
    try:
        assert [name for name, _ in loads] == ["file"]
        assert loads[0][1] != threading.get_ident()
    finally:
        await connection.close()


async def test_given_credentials_are_not_loaded_at_all(loads: list[tuple[str, int]]) -> None:
    credentials = AnonymousCredentials()  # type: ignore[no-untyped-call]
    connection = await connect(ConnectionConfig("demo-loop", "(default)", None, None, credentials))
    try:
        assert loads == []
    finally:
        await connection.close()
