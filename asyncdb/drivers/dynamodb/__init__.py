"""The DynamoDB provider: ``DynamoDBDriver`` over aioboto3 (``pip install 'asyncdb[dynamodb]'``).

See docs/providers/dynamodb.md for configuration, table layout, encoding and costs.
"""

from asyncdb.drivers.dynamodb.driver import DynamoDBDriver

__all__ = ["DynamoDBDriver"]
