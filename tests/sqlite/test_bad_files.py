"""Bad input for the SQLite provider: a folder that cannot be created or written, a file
that is not a database, a path that is a folder, a database locked past the busy timeout.
Each is a clear asyncdb error naming the file, never an sqlite3 exception or a 500."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from asyncdb import DatabaseService, Settings, create_database_service
from asyncdb.drivers.sqlite import SQLiteDriver
from asyncdb.errors import BackendUnavailableError, ConfigurationError


async def _first_write(path: Path, **options: object) -> None:
    service = DatabaseService(SQLiteDriver(str(path), **options))  # type: ignore[arg-type]
    try:
        await service.save("items", "a", {"v": 1})
    finally:
        await service.aclose()


async def test_a_path_under_a_regular_file_is_a_configuration_error(tmp_path: Path) -> None:
    # Works as root too: no permission is involved, a file cannot hold a folder.
    blocker = tmp_path / "some_file"
    blocker.write_text("not a folder")
    with pytest.raises(ConfigurationError) as caught:
        await _first_write(blocker / "db.sqlite3")
    message = str(caught.value)
    assert "SQLITE_PATH=" in message and str(blocker / "db.sqlite3") in message
    assert "folder cannot be created" in message


@pytest.mark.skipif(
    hasattr(os, "geteuid") and os.geteuid() == 0,
    reason="root ignores folder permissions; the path-under-a-file test proves the error path",
)
async def test_a_read_only_folder_is_a_configuration_error(tmp_path: Path) -> None:
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(ConfigurationError, match="SQLITE_PATH="):
            await _first_write(folder / "db.sqlite3")
    finally:
        folder.chmod(0o755)


async def test_a_file_that_is_not_a_database_is_a_configuration_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("these are my notes, not a database\n" * 200)
    with pytest.raises(ConfigurationError, match="not a SQLite database") as caught:
        await _first_write(path)
    assert str(path) in str(caught.value)
    assert path.read_text().startswith("these are my notes")  # left as it was


async def test_a_damaged_file_with_the_sqlite_header_is_a_configuration_error(
    tmp_path: Path,
) -> None:
    # Past the header check: SQLite itself refuses the file (SQLITE_NOTADB), translated.
    path = tmp_path / "damaged.sqlite3"
    path.write_bytes(b"SQLite format 3\x00" + b"\xff" * 5000)
    with pytest.raises(ConfigurationError, match="not a SQLite database") as caught:
        await _first_write(path)
    assert "opening" in str(caught.value) and str(path) in str(caught.value)


async def test_a_folder_as_the_path_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="is a folder"):
        await _first_write(tmp_path)


async def test_a_write_locked_past_the_timeout_is_backend_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    await _first_write(path)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another connection holds the write lock
    try:
        service = DatabaseService(SQLiteDriver(str(path), busy_timeout=0.2, max_retries=1))
        try:
            assert (await service.get("items", "a"))["v"] == 1  # WAL: readers do not wait
            with pytest.raises(BackendUnavailableError, match="locked") as caught:
                await service.save("items", "b", {"v": 2})
            assert caught.value.status_code == 503
        finally:
            await service.aclose()
    finally:
        holder.execute("ROLLBACK")
        holder.close()


async def test_a_database_locked_at_open_is_backend_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE other (x)")  # a rollback-journal database of another program
    holder.execute("BEGIN EXCLUSIVE")
    try:
        service = DatabaseService(SQLiteDriver(str(path), busy_timeout=0.2, max_retries=0))
        with pytest.raises(BackendUnavailableError, match="locked"):
            await service.open()
        await service.aclose()
    finally:
        holder.execute("ROLLBACK")
        holder.close()


async def test_the_settings_reach_the_driver(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "folder" / "db.sqlite3"
    service = create_database_service(Settings(database_url=f"sqlite:///{path}"))
    try:
        await service.save("items", "a", {"v": 1})
        assert str(path) in repr(service)
    finally:
        await service.aclose()
    assert path.exists()
    connection = sqlite3.connect(path)
    assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_settings_refuse_a_bad_synchronous_value() -> None:
    from asyncdb.drivers.sqlite.settings import SQLiteSettings

    with pytest.raises(ConfigurationError, match="sqlite_synchronous"):
        SQLiteSettings.of(Settings(database_provider="sqlite", sqlite_synchronous="sometimes"))
