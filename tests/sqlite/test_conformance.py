"""The conformance suite on the SQLite driver, awaited and through the sync facade."""

from __future__ import annotations

from pathlib import Path

import pytest

from asyncdb.drivers.sqlite import SQLiteDriver
from asyncdb.testing import ConformanceSuite, DriverFactory


class TestSQLiteConformance(ConformanceSuite):
    @pytest.fixture
    def native_indexes(self) -> bool:
        return True  # ensure_index makes native indexes here (the Indexes tests use strict)

    @pytest.fixture
    def driver_factory(self, sqlite_path: Path) -> DriverFactory:
        # A new driver (its own connection) per service, all on one file: services of one
        # test share the data as they would share a server.
        return lambda: SQLiteDriver(str(sqlite_path), max_retries=2)


class TestSQLiteConformanceThroughSyncFacade(TestSQLiteConformance):
    via_sync_facade = True
