"""The face's scan fallback: a driver that runs only today's shape (equality and ``$in``
on top-level fields) still gives every query the reference evaluator's answer, through
the whole query part of the conformance suite."""

from __future__ import annotations

from typing import ClassVar

import pytest

from asyncdb._query import Query
from asyncdb.drivers.base import Driver
from asyncdb.drivers.memory import MemoryDriver
from asyncdb.testing import ConformanceSuite, DriverFactory
from asyncdb.testing._suite.ordering import Ordering
from asyncdb.testing._suite.queries import Queries


class ScanOnlyMemory(MemoryDriver):
    """The memory driver with the default capability and the default ``find`` (a filtered
    scan of its own): what every other driver's ``find`` does today."""

    def can_find(self, collection: str, query: Query) -> bool:
        return Driver.can_find(self, collection, query)

    find = Driver.find


class TestQueriesThroughTheFallback(Ordering, Queries):
    via_sync_facade: ClassVar[bool] = False
    harness = ConformanceSuite.harness
    db = ConformanceSuite.db

    @pytest.fixture
    def driver_factory(self) -> DriverFactory:
        return ScanOnlyMemory


class TestQueriesThroughTheFallbackAndTheSyncFacade(TestQueriesThroughTheFallback):
    via_sync_facade = True
