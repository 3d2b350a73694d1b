"""The sqlite provider: ``SQLiteDriver`` (``pip install 'asyncdb-documents[sqlite]'``).

See docs/providers/sqlite.md for configuration and how documents are stored.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from asyncdb.drivers._lazy import lazy_attributes

if TYPE_CHECKING:
    from asyncdb.drivers.sqlite.driver import SQLiteDriver

__all__ = ["SQLiteDriver"]

# The driver and its client library load on first use of the class.
__getattr__ = lazy_attributes(__name__, {"SQLiteDriver": "asyncdb.drivers.sqlite.driver"})
