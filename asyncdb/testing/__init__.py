"""asyncdb's conformance suite, reusable by anyone who writes a driver.

See ``docs/implementing-a-driver.md``. Importing this package imports pytest and
hypothesis (the ``test`` extra).
"""

from asyncdb.testing.assertions import assert_same_json, same_json
from asyncdb.testing.conformance import ConformanceSuite
from asyncdb.testing.harness import AwaitedSyncFacade, DriverFactory, Harness
from asyncdb.testing.recorder import CallRecorder

__all__ = [
    "AwaitedSyncFacade",
    "CallRecorder",
    "ConformanceSuite",
    "DriverFactory",
    "Harness",
    "assert_same_json",
    "same_json",
]
