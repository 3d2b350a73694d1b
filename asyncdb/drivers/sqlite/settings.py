"""The SQLite provider's settings: ``SQLITE_PATH``, or ``DATABASE_URL=sqlite:///path``
(``sqlite:////abs/path`` for an absolute path, as SQLAlchemy spells it)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar, Final, Literal
from urllib.parse import unquote

from pydantic import Field

from asyncdb.drivers.settings import DriverSettings, ProviderURL
from asyncdb.errors import ConfigurationError

__all__ = ["DEFAULT_SQLITE_PATH", "SQLiteSettings", "check_database_path"]

#: The file used when ``SQLITE_PATH`` is not set (relative to the working directory).
DEFAULT_SQLITE_PATH = "asyncdb.sqlite3"

#: The first 16 bytes of every SQLite database file.
_HEADER: Final = b"SQLite format 3\x00"


class SQLiteSettings(DriverSettings):
    """Which database file (its folder is created when missing), how long a statement waits
    for another connection's lock, and how durable a commit is."""

    url_schemes: ClassVar[tuple[str, ...]] = ("sqlite",)
    address_variables: ClassVar[str] = "SQLITE_PATH (or DATABASE_URL=sqlite:///path)"

    sqlite_path: str = Field(
        default=DEFAULT_SQLITE_PATH,
        validation_alias="SQLITE_PATH",
        description="the database file; its folder is created when missing",
    )
    sqlite_busy_timeout: float = Field(
        default=5.0,
        gt=0,
        validation_alias="SQLITE_BUSY_TIMEOUT",
        description="seconds a statement waits for another connection's write lock before "
        "it counts as failed (then retried under DATABASE_MAX_RETRIES)",
    )
    sqlite_synchronous: Literal["full", "normal"] = Field(
        default="full",
        validation_alias="SQLITE_SYNCHRONOUS",
        description="full: every acknowledged write survives a power loss (an fsync per "
        "commit); normal: it survives a crash of the process, not of the machine",
    )

    def where(self) -> str:
        return f"SQLITE_PATH={str(Path(self.sqlite_path).expanduser().resolve())!r}"

    def check_path(self) -> None:
        """Refuse a path that can never hold the database, before anything is created
        (``ConfigurationError``): see ``check_database_path``."""
        check_database_path(Path(self.sqlite_path))

    @classmethod
    def from_url(cls, url: ProviderURL) -> dict[str, Any]:
        # sqlite:///relative/file.db and sqlite:////absolute/file.db: the path is what
        # follows the third slash. A host is meaningless for a file and refused.
        if url.parts.netloc:
            raise ConfigurationError(
                f"provider URL {url.shown} names a host; a SQLite URL is sqlite:///path "
                "(three slashes, then the file)"
            )
        path = unquote(url.parts.path)
        path = path[1:] if path.startswith("/") else path
        if not path:
            raise ConfigurationError(f"provider URL {url.shown} names no file (sqlite:///path)")
        return {"sqlite_path": path}


def check_database_path(path: Path) -> None:
    """``ConfigurationError`` naming ``SQLITE_PATH`` if ``path`` can never be the database:
    a folder, a file that is not a SQLite database, or a path whose nearest existing
    folder is a file or cannot be written (SQLite writes the -wal and -shm files beside
    the database). Reads at most 16 bytes; creates nothing."""
    path = path.expanduser().absolute()
    shown = f"SQLITE_PATH={str(path)!r}"
    if path.is_dir():
        raise ConfigurationError(f"{shown} is a folder; name a file in it")
    if path.exists():
        try:
            with path.open("rb") as file:
                header = file.read(len(_HEADER))
        except OSError as exc:
            raise ConfigurationError(
                f"{shown} cannot be read ({exc.strerror or type(exc).__name__})"
            ) from exc
        if header and header != _HEADER:
            raise ConfigurationError(
                f"{shown}: the file is not a SQLite database; point SQLITE_PATH at another file"
            )
    ancestor = path.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise ConfigurationError(
            f"{shown}: its folder cannot be created: {str(ancestor)!r} is a file"
        )
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise ConfigurationError(
            f"{shown}: the folder {str(ancestor)!r} is not writable by this process "
            "(SQLite creates the database and its -wal and -shm files there)"
        )
