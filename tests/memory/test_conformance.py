"""The conformance suite on the memory driver, awaited and through the sync facade."""

from __future__ import annotations

import pytest

from asyncdb.drivers.memory import MemoryDriver
from asyncdb.testing import ConformanceSuite, DriverFactory


class TestMemoryConformance(ConformanceSuite):
    @pytest.fixture
    def native_indexes(self) -> bool:
        return True  # ensure_index makes native indexes here (the Indexes tests use strict)

    @pytest.fixture
    def driver_factory(self) -> DriverFactory:
        return MemoryDriver


class TestMemoryConformanceThroughSyncFacade(TestMemoryConformance):
    via_sync_facade = True
