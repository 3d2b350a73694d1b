"""The DynamoDB provider: ``DynamoDBDriver`` over aioboto3 (``pip install 'asyncdb[dynamodb]'``).

See docs/providers/dynamodb.md for configuration, table layout, encoding and costs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from asyncdb.drivers.dynamodb.driver import DynamoDBDriver

__all__ = ["DynamoDBDriver"]


def __getattr__(name: str) -> Any:
    # The driver (and its client library) loads on first use, so that the registry can
    # read this provider's settings class (``.settings``) without the client library.
    if name == "DynamoDBDriver":
        from asyncdb.drivers.dynamodb.driver import DynamoDBDriver

        return DynamoDBDriver
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
