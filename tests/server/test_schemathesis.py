"""Property-based requests generated from the OpenAPI schema: no answer may be a 5xx.

Examples are bounded, and derandomised (the same every run) when ``CI=true``. Requests
carry the bearer token, so that they reach the routes rather than the 401 gate.
"""

from __future__ import annotations

import os
from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from asyncdb import Settings, create_database_service
from asyncdb.server import ServerConfig, create_app
from tests.server.conftest import TOKEN

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
MAX_EXAMPLES = 40

app = create_app(
    service=create_database_service(Settings(database_provider="memory")),
    config=ServerConfig(api_token=TOKEN),
)
schema = schemathesis.openapi.from_asgi(
    "/openapi.json", app, headers={"Authorization": f"Bearer {TOKEN}"}
)


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=IN_CI,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_generated_request_gets_a_server_error(case: Any) -> None:
    case.call_and_validate(
        headers={"Authorization": f"Bearer {TOKEN}"}, checks=[not_a_server_error]
    )
