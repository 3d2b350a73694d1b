"""``ConformanceSuite``: the single source of truth for how a backend must behave.

Subclass it in a test module and provide a ``driver_factory`` fixture that returns a
callable building a new driver for your backend (connecting lazily)::

    from asyncdb.testing import ConformanceSuite

    class TestMyDriver(ConformanceSuite):
        @pytest.fixture
        def driver_factory(self, my_server):
            return lambda: MyDriver(url=my_server.url)

    class TestMyDriverThroughSyncFacade(TestMyDriver):
        via_sync_facade = True

Each test gets a service whose collections carry a random prefix (tests sharing a server
never see each other's data) and whose driver calls are recorded (so the suite can prove
that invalid input never reaches the backend). What a test touched is dropped afterwards.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import ClassVar

import pytest

from asyncdb.abc import DocumentService
from asyncdb.testing._suite.bulk import BulkOperations
from asyncdb.testing._suite.contract import Contract, Lifecycle
from asyncdb.testing._suite.core import CoreOperations
from asyncdb.testing._suite.ids import PortableIds
from asyncdb.testing._suite.indexes import Indexes
from asyncdb.testing._suite.ordering import Ordering
from asyncdb.testing._suite.pagination import Pagination
from asyncdb.testing._suite.patch import Patches
from asyncdb.testing._suite.queries import Queries
from asyncdb.testing._suite.revisions import Revisions
from asyncdb.testing._suite.updates import Updates
from asyncdb.testing.harness import DriverFactory, Harness

__all__ = ["ConformanceSuite"]


class ConformanceSuite(
    CoreOperations,
    Updates,
    Patches,
    Pagination,
    BulkOperations,
    Queries,
    Ordering,
    Indexes,
    Contract,
    PortableIds,
    Revisions,
    Lifecycle,
):
    """Every behaviour the face promises, run against one backend."""

    #: Run every test through ``SyncDatabaseService`` instead of awaiting the face.
    via_sync_facade: ClassVar[bool] = False

    @pytest.fixture
    def driver_factory(self) -> DriverFactory:
        """Override: return a callable that builds a new driver for the backend under test."""
        pytest.fail(f"{type(self).__name__} must define a driver_factory fixture", pytrace=False)

    @pytest.fixture
    async def harness(self, driver_factory: DriverFactory) -> AsyncIterator[Harness]:
        harness = Harness(driver_factory, via_sync_facade=self.via_sync_facade)
        await harness.start()
        try:
            yield harness
        finally:
            await harness.close()

    @pytest.fixture
    def db(self, harness: Harness) -> DocumentService:
        """The service under test (awaited directly, or through the sync facade)."""
        return harness.service
