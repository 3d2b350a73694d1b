"""The conformance suite on the PostgreSQL driver, awaited and through the sync facade.

Every test's collections carry a random prefix (the suite's harness), so tests sharing the
session's server and its one table never see each other's documents."""

from __future__ import annotations

import pytest

from asyncdb.drivers.postgres import PostgresDriver
from asyncdb.testing import ConformanceSuite, DriverFactory


class TestPostgresConformance(ConformanceSuite):
    @pytest.fixture
    def native_indexes(self) -> bool:
        return True  # ensure_index makes native indexes here (the Indexes tests use strict)

    @pytest.fixture
    def driver_factory(self, postgres_url: str) -> DriverFactory:
        return lambda: PostgresDriver(postgres_url, request_timeout=30.0, max_retries=2)


class TestPostgresConformanceThroughSyncFacade(TestPostgresConformance):
    via_sync_facade = True
