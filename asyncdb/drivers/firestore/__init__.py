"""The Firestore provider: ``FirestoreDriver`` (needs ``pip install 'asyncdb[firestore]'``).

See docs/providers/firestore.md for configuration, the encoding and the round trips.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from asyncdb.drivers.firestore.driver import FirestoreDriver

__all__ = ["FirestoreDriver"]


def __getattr__(name: str) -> Any:
    # The driver (and its client library) loads on first use, so that the registry can
    # read this provider's settings class (``.settings``) without the client library.
    if name == "FirestoreDriver":
        from asyncdb.drivers.firestore.driver import FirestoreDriver

        return FirestoreDriver
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
