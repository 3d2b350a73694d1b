"""One aioboto3 DynamoDB client per driver, opened on first use, and every call through it
retried with bounded, jittered back-off.

botocore's own retries are off so that the bound is the driver's and predictable, and so
that a retried conditional write can tell that an earlier attempt may have landed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import aioboto3
from botocore.config import Config
from botocore.exceptions import ClientError

from asyncdb.drivers.dynamodb._errors import (
    Attempts,
    ConditionFailed,
    backoff_delay,
    error_code,
    is_ambiguous,
    is_transient,
    translate,
)
from asyncdb.errors import AuthenticationError, BackendUnavailableError, WriteOutcomeUnknownError

__all__ = ["Connection"]

logger = logging.getLogger("asyncdb")


class Connection:
    """The client (created once: it costs hundreds of milliseconds) and the retry policy."""

    def __init__(
        self,
        *,
        session_kwargs: dict[str, str],
        endpoint_url: str | None,
        request_timeout: float,
        max_retries: int,
        max_connections: int,
        backoff_base: float,
        backoff_cap: float,
    ) -> None:
        self._session_kwargs = session_kwargs
        self._endpoint_url = endpoint_url
        self._request_timeout = request_timeout
        self.max_retries = max_retries
        self._max_connections = max_connections
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._client: Any = None
        self._stack: contextlib.AsyncExitStack | None = None
        self._lock: asyncio.Lock | None = None

    async def client(self) -> Any:
        """The client, created by the first caller (concurrent first callers share it)."""
        if self._client is not None:
            return self._client
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._client is None:
                self._client = await self._create_client()
        return self._client

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
        stack, self._stack, self._client = self._stack, None, None
        self._lock = None
        if stack is not None:
            await stack.aclose()

    async def call(
        self,
        operation: str,
        table: str,
        params: dict[str, Any],
        *,
        attempts: Attempts | None = None,
    ) -> dict[str, Any]:
        """One API call with bounded, jittered retries of transient failures.

        Raises ``TableMissing`` / ``TableBusy`` / ``ConditionFailed`` (control flow) or the
        asyncdb error for anything else. ``attempts`` marks a write: it records whether
        any attempt (of this call or of an earlier call for the same write) may have been
        applied without an answer, and if retries then run out the write's fate is unknown:
        ``WriteOutcomeUnknownError``, never a plain ``BackendUnavailableError``.
        """
        client = await self.client()
        method = getattr(client, operation)
        attempt = 0
        while True:
            try:
                response: dict[str, Any] = await method(**params)
                return response
            except Exception as exc:
                if (
                    isinstance(exc, ClientError)
                    and error_code(exc) == "ConditionalCheckFailedException"
                ):
                    raise ConditionFailed(attempts is not None and attempts.ambiguous) from exc
                transient = is_transient(exc)
                if attempts is not None and transient and is_ambiguous(exc):
                    attempts.ambiguous = True
                if not transient or attempt >= self.max_retries:
                    error = translate(exc, operation, table)
                    if attempts is not None and attempts.ambiguous and _unsettled(error):
                        raise WriteOutcomeUnknownError(
                            f"DynamoDB {operation} on table {table!r}: an attempt may have been "
                            f"applied, and the write could not be confirmed ({error})"
                        ) from exc
                    raise error from exc
                delay = backoff_delay(attempt, self._backoff_base, self._backoff_cap)
                logger.debug(
                    "DynamoDB %s on %r failed (%s), retry %d in %.3fs",
                    operation,
                    table,
                    type(exc).__name__,
                    attempt + 1,
                    delay,
                )
                attempt += 1
                await asyncio.sleep(delay)

    async def back_off(self, stalls: int) -> None:
        """Wait before asking again for what a batch call left unprocessed."""
        await asyncio.sleep(backoff_delay(stalls, self._backoff_base, self._backoff_cap))


def _unsettled(error: Exception) -> bool:
    """Whether a final error leaves an earlier ambiguous attempt's fate open: running out
    of retries does, and so do refused credentials (they may have expired in between); a
    request the server refuses as invalid would have been refused the first time too."""
    return isinstance(error, BackendUnavailableError | AuthenticationError)
