"""The conformance suite on the memory driver under middleware: the statistics middleware
over a pass-through one, so that the hook's forwarding changes no behaviour."""

from __future__ import annotations

import pytest

from asyncdb.drivers.base import Driver
from asyncdb.drivers.memory import MemoryDriver
from asyncdb.middleware import DriverWrapper, StatisticsMiddleware
from asyncdb.testing import ConformanceSuite, DriverFactory


def _wrapped() -> Driver:
    return StatisticsMiddleware(DriverWrapper(MemoryDriver()))


class TestMemoryUnderMiddleware(ConformanceSuite):
    @pytest.fixture
    def driver_factory(self) -> DriverFactory:
        return _wrapped


class TestMemoryUnderMiddlewareThroughSyncFacade(TestMemoryUnderMiddleware):
    via_sync_facade = True
