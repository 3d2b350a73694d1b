"""The Firestore provider: ``FirestoreDriver`` (needs ``pip install 'asyncdb[firestore]'``).

See docs/providers/firestore.md for configuration, the encoding and the round trips.
"""

from asyncdb.drivers.firestore.driver import FirestoreDriver

__all__ = ["FirestoreDriver"]
