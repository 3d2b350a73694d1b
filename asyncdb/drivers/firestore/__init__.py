"""The Firestore provider: ``FirestoreDriver`` (needs ``pip install 'asyncdb[firestore]'``).

See docs/providers/firestore.md for configuration, the encoding and the round trips.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from asyncdb.drivers._lazy import lazy_attributes

if TYPE_CHECKING:
    from asyncdb.drivers.firestore.driver import FirestoreDriver

__all__ = ["FirestoreDriver"]

# The driver and its client library load on first use of the class.
__getattr__ = lazy_attributes(__name__, {"FirestoreDriver": "asyncdb.drivers.firestore.driver"})
