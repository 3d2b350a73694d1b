"""The DynamoDB provider: ``DynamoDBDriver`` over aioboto3 (``pip install 'asyncdb[dynamodb]'``).

See docs/providers/dynamodb.md for configuration, table layout, encoding and costs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from asyncdb.drivers._lazy import lazy_attributes

if TYPE_CHECKING:
    from asyncdb.drivers.dynamodb.driver import DynamoDBDriver

__all__ = ["DynamoDBDriver"]

# The driver and its client library load on first use of the class.
__getattr__ = lazy_attributes(__name__, {"DynamoDBDriver": "asyncdb.drivers.dynamodb.driver"})
