"""The conformance suite on the Firestore driver (emulator), awaited and through the sync
facade."""

from __future__ import annotations

import pytest

from asyncdb.drivers.firestore import FirestoreDriver
from asyncdb.testing import ConformanceSuite, DriverFactory
from tests.backends.firestore import TEST_PROJECT


class TestFirestoreConformance(ConformanceSuite):
    @pytest.fixture
    def native_indexes(self) -> bool:
        return True  # ensure_index makes native indexes here (the Indexes tests use strict)

    @pytest.fixture
    def driver_factory(self, firestore_host: str) -> DriverFactory:
        return lambda: FirestoreDriver(
            project=TEST_PROJECT,
            emulator_host=firestore_host,
            request_timeout=30.0,
            max_retries=2,
            # Writers learn of a new index at once, so ensure_index need not wait.
            index_refresh_seconds=0,
        )


class TestFirestoreConformanceThroughSyncFacade(TestFirestoreConformance):
    via_sync_facade = True
