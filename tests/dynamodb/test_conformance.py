"""The conformance suite on DynamoDB: awaited on both emulators (dynalite and moto), and
through the sync facade on the first one only (the facade adds nothing emulator-specific,
and the whole directory has to stay well under four minutes on two cores)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from asyncdb.drivers.dynamodb import DynamoDBDriver
from asyncdb.testing import ConformanceSuite, DriverFactory
from tests.backends.dynamodb import DynamoDBEndpoint
from tests.dynamodb.conftest import KINDS


class TestDynamoDBConformance(ConformanceSuite):
    @pytest.fixture
    def native_indexes(self, dynamodb_endpoint: DynamoDBEndpoint) -> bool:
        # dynalite creates a GSI only with its table: an index added to a table that
        # holds documents stays a scan there (with a WARNING), as the Indexes tests allow.
        return dynamodb_endpoint.kind != "dynalite"

    @pytest.fixture
    def driver_factory(self, make_driver: Callable[..., DynamoDBDriver]) -> DriverFactory:
        def make(**overrides: Any) -> DynamoDBDriver:
            # One driver per test: no other process to wait for in ensure_index.
            return make_driver(**{"index_refresh_seconds": 0.0, **overrides})

        return make


@pytest.mark.parametrize("dynamodb_endpoint", KINDS[:1], indirect=True)
class TestDynamoDBConformanceThroughSyncFacade(TestDynamoDBConformance):
    via_sync_facade = True
