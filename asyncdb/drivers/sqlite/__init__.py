"""The sqlite provider: ``SQLiteDriver`` (``pip install 'asyncdb-documents[sqlite]'``).

See docs/providers/sqlite.md for configuration and how documents are stored.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from asyncdb.drivers.sqlite.driver import SQLiteDriver

__all__ = ["SQLiteDriver"]


def __getattr__(name: str) -> Any:
    # The driver (and its client library) loads on first use, so that the registry can
    # read this provider's settings class (``.settings``) without the client library.
    if name == "SQLiteDriver":
        from asyncdb.drivers.sqlite.driver import SQLiteDriver

        return SQLiteDriver
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
