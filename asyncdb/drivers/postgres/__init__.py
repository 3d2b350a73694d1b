"""The postgres provider: ``PostgresDriver`` (``pip install 'asyncdb-documents[postgres]'``).

See docs/providers/postgres.md for configuration and how documents are stored.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from asyncdb.drivers.postgres.driver import PostgresDriver

__all__ = ["PostgresDriver"]


def __getattr__(name: str) -> Any:
    # The driver (and its client library) loads on first use, so that the registry can
    # read this provider's settings class (``.settings``) without the client library.
    if name == "PostgresDriver":
        from asyncdb.drivers.postgres.driver import PostgresDriver

        return PostgresDriver
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
