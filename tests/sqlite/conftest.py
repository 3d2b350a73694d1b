"""The SQLite provider's tests: a fresh database file per test, in pytest's tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("aiosqlite")


@pytest.fixture
def sqlite_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "asyncdb.sqlite3"
