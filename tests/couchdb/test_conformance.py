"""The conformance suite on the CouchDB driver, awaited and through the sync facade."""

from __future__ import annotations

import pytest

from asyncdb.drivers.couchdb import CouchDBDriver
from asyncdb.testing import ConformanceSuite, DriverFactory


class TestCouchDBConformance(ConformanceSuite):
    @pytest.fixture
    def native_indexes(self) -> bool:
        return True  # ensure_index makes native indexes here (the Indexes tests use strict)

    @pytest.fixture
    def driver_factory(self, couchdb_url: str) -> DriverFactory:
        return lambda: CouchDBDriver(couchdb_url, request_timeout=30.0, max_retries=2)


class TestCouchDBConformanceThroughSyncFacade(TestCouchDBConformance):
    via_sync_facade = True
