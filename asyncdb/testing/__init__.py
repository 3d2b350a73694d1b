"""asyncdb's conformance suite, reusable by anyone who writes a driver.

See ``docs/implementing-a-driver.md``. Importing this package imports pytest and
hypothesis (the ``test`` extra).
"""

from asyncdb.testing.assertions import assert_same_json, same_json
from asyncdb.testing.conformance import ConformanceSuite
from asyncdb.testing.harness import DriverFactory, Harness, ServiceLike, SyncBackedService
from asyncdb.testing.recorder import CallRecorder

__all__ = [
    "CallRecorder",
    "ConformanceSuite",
    "DriverFactory",
    "Harness",
    "ServiceLike",
    "SyncBackedService",
    "assert_same_json",
    "same_json",
]
