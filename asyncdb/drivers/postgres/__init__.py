"""The postgres provider: ``PostgresDriver`` (``pip install 'asyncdb-documents[postgres]'``).

See docs/providers/postgres.md for configuration and how documents are stored.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from asyncdb.drivers._lazy import lazy_attributes

if TYPE_CHECKING:
    from asyncdb.drivers.postgres.driver import PostgresDriver

__all__ = ["PostgresDriver"]

# The driver and its client library load on first use of the class.
__getattr__ = lazy_attributes(__name__, {"PostgresDriver": "asyncdb.drivers.postgres.driver"})
