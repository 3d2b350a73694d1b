"""The conformance suite on DynamoDB (dynalite and moto), awaited and through the sync facade."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from asyncdb.drivers.dynamodb import DynamoDBDriver
from asyncdb.testing import ConformanceSuite, DriverFactory


class TestDynamoDBConformance(ConformanceSuite):
    @pytest.fixture
    def driver_factory(self, make_driver: Callable[..., DynamoDBDriver]) -> DriverFactory:
        return make_driver


class TestDynamoDBConformanceThroughSyncFacade(TestDynamoDBConformance):
    via_sync_facade = True
