"""The DynamoDB client of one driver, and every call through it retried by the one retry
policy (``asyncdb._retry``) with this driver's classification of failures.

The driver opens its own aioboto3 client on first use, unless the user handed it one
(``client=``). The rule: what the driver did not open, it does not close. botocore's own
retries are off in a client the driver opens, so that the bound is the driver's and
predictable, and so that a retried conditional write can tell that an earlier attempt may
have landed.
"""

from __future__ import annotations

import contextlib
from typing import Any

import aioboto3
from aiobotocore.client import AioBaseClient
from botocore.config import Config

from asyncdb._retry import Attempts, RetryPolicy, outcome_unknown, retrying
from asyncdb.drivers._once import OpenedOnce
from asyncdb.drivers.dynamodb._errors import classify, leaves_outcome_open, translate, where
from asyncdb.errors import ConfigurationError

__all__ = ["Transport"]


class Transport:
    """The client (created once: it costs hundreds of milliseconds) and the retry policy.

    ``client``, when given, is the user's entered aiobotocore DynamoDB client: it is used
    as it is (its endpoint, credentials, timeouts and pool) and never closed here.
    """

    def __init__(
        self,
        *,
        policy: RetryPolicy,
        session_kwargs: dict[str, str],
        endpoint_url: str | None,
        request_timeout: float,
        max_connections: int,
        client: Any = None,
    ) -> None:
        if client is not None:
            _check_client(client)
        self.policy = policy
        self._session_kwargs = session_kwargs
        self._endpoint_url = endpoint_url
        self._request_timeout = request_timeout
        self._max_connections = max_connections
        self._given: Any = client
        self._client: OpenedOnce[Any] = OpenedOnce(client)
        # Set only while this transport holds a client it created: what aclose() closes.
        self._stack: contextlib.AsyncExitStack | None = None

    @property
    def region(self) -> str:
        """The region requests are signed for (the user's client's own, when given)."""
        if self._given is not None:
            return str(self._given.meta.region_name)
        return self._session_kwargs["region_name"]

    @property
    def endpoint_url(self) -> str | None:
        """The endpoint requests go to; ``None`` is AWS's endpoint for the region."""
        if self._given is not None:
            return str(self._given.meta.endpoint_url)
        return self._endpoint_url

    async def client(self) -> Any:
        """The client, created by the first caller (concurrent first callers share it)."""
        return await self._client.get(self._create_client)

    async def _create_client(self) -> Any:
        config = Config(
            connect_timeout=self._request_timeout,
            read_timeout=self._request_timeout,
            retries={"total_max_attempts": 1, "mode": "standard"},
            max_pool_connections=self._max_connections,
        )
        session = aioboto3.Session(**self._session_kwargs)
        stack = contextlib.AsyncExitStack()
        try:
            client = await stack.enter_async_context(
                session.client("dynamodb", endpoint_url=self._endpoint_url, config=config)
            )
        except Exception as exc:
            await stack.aclose()
            raise translate(exc, "client setup", "") from exc
        self._stack = stack
        return client

    async def aclose(self) -> None:
        """Close the client this transport created; a user's client is left open."""
        stack, self._stack = self._stack, None
        if stack is not None:
            self._client.take()
            await stack.aclose()

    async def call(
        self,
        operation: str,
        table: str,
        params: dict[str, Any],
        *,
        attempts: Attempts | None = None,
    ) -> dict[str, Any]:
        """One API call, its transient failures retried under ``policy``.

        Raises ``TableMissing`` / ``TableBusy`` / ``ConditionFailed`` (control flow) or the
        asyncdb error for anything else. ``attempts`` marks a write: it records whether
        any attempt (of this call or of an earlier call for the same write) may have been
        applied without an answer, and if retries then run out the write's fate is unknown:
        ``WriteOutcomeUnknownError``, never a plain ``BackendUnavailableError``.
        """
        client = await self.client()
        method = getattr(client, operation)

        async def attempt() -> dict[str, Any]:
            response: dict[str, Any] = await method(**params)
            return response

        try:
            return await retrying(
                attempt,
                classify=classify,
                policy=self.policy,
                attempts=attempts,
                what=where(operation, table),
            )
        except Exception as exc:
            error = translate(exc, operation, table)
            if attempts is not None and attempts.ambiguous and leaves_outcome_open(error):
                raise outcome_unknown(where(operation, table), str(error)) from exc
            raise error from exc


def _check_client(client: Any) -> None:
    """Refuse what is not an entered aiobotocore DynamoDB client before any I/O: an aioboto3
    ``session.client(...)`` not yet entered, a blocking boto3 client or another service's
    client would each fail only on first use, with a far less clear error."""
    service = getattr(
        getattr(getattr(client, "meta", None), "service_model", None), "service_name", None
    )
    if not isinstance(client, AioBaseClient) or service != "dynamodb":
        raise ConfigurationError(
            "client= must be an entered aioboto3/aiobotocore DynamoDB client "
            f"(async with session.client('dynamodb') as client), not {type(client).__name__}"
        )
