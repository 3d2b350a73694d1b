"""The DynamoDB client of one driver, and every call through it retried by the one retry
policy (``asyncdb.drivers._retried``) with this driver's classification of failures.

The driver opens its own aioboto3 client on first use, unless the user handed it one
(``client=``). The rule: what the driver did not open, it does not close. botocore's own
retries are off in a client the driver opens, so that the bound is the driver's and
predictable, and so that a retried conditional write can tell that an earlier attempt may
have landed.

Building the client reads botocore's JSON models, its endpoint rules and the CA bundle
with blocking I/O (about 150 ms, and 50 ms more for the TLS context on the first
request): ``_prepare`` does that in a worker thread, so the loop only assembles a client
from warm caches (docs/performance/loop-lag.md).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import ssl
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Final

import aioboto3
import aiohttp
from aiobotocore.client import AioBaseClient
from aiobotocore.config import AioConfig
from aiobotocore.httpsession import AIOHTTPSession
from botocore.httpsession import create_urllib3_context, get_cert_path
from botocore.loaders import JSONFileLoader

from asyncdb._offload import off_loop
from asyncdb._retry import Attempts, RetryPolicy, outcome_unknown
from asyncdb.drivers._once import OpenedOnce
from asyncdb.drivers._retried import Retrier
from asyncdb.drivers.dynamodb._errors import classify, leaves_outcome_open, translate, where
from asyncdb.errors import ConfigurationError

__all__ = ["Transport"]

logger = logging.getLogger("asyncdb")

_SERVICE: Final = "dynamodb"
#: TLS contexts with a CA bundle loaded, by the bundle's path; built off the loop by
#: ``_prepare`` and shared (an ``ssl.SSLContext`` serves any number of connections).
_TLS_CONTEXTS: dict[str, ssl.SSLContext] = {}


class _TurnTakingJSONFileLoader(JSONFileLoader):  # type: ignore[misc]  # botocore is untyped
    """botocore's loader of its JSON data files, decoding each object through a Python
    function. The C decoder alone holds the GIL for a whole file (about 30 ms for the
    1.2 MB endpoints.json), which stalls the loop even from a worker thread; a hook that
    runs bytecode lets the loop's thread take its turn every switch interval (5 ms)."""

    def _load_file(self, full_path: str, open_method: Callable[..., Any]) -> Any:
        if not os.path.isfile(full_path):
            return None
        with open_method(full_path, "rb") as file:
            payload = file.read().decode("utf-8")
        return json.loads(payload, object_pairs_hook=_ordered)


def _ordered(pairs: list[tuple[str, Any]]) -> OrderedDict[str, Any]:
    return OrderedDict(pairs)


class _PreparedTLSSession(AIOHTTPSession):  # type: ignore[misc]  # aiobotocore is untyped
    """aiobotocore's aiohttp session, but its connector takes the TLS context that
    ``_prepare`` loaded in a worker thread instead of loading the CA bundle on the loop at
    the first request. Any other case (a proxy, a client certificate, a bundle not
    prepared, verification off) is aiobotocore's own code path."""

    def _create_connector(self, proxy_url: str | None) -> aiohttp.TCPConnector:
        ready = None
        # getattr: these are aiobotocore's private attributes; should a release rename
        # them, its own code path serves (the context is then loaded on the loop).
        verify = getattr(self, "_verify", None)
        if verify and not proxy_url and getattr(self, "_cert_file", "") is None:
            ready = _TLS_CONTEXTS.get(str(get_cert_path(verify)))
        if ready is not None and not hasattr(self, "_connector_args"):
            ready = None
        if ready is None:
            connector: aiohttp.TCPConnector = super()._create_connector(proxy_url)
            return connector
        return aiohttp.TCPConnector(
            limit=self._max_pool_connections, ssl=ready, **self._connector_args
        )


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
        self._retrier = Retrier(policy, classify)
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
        config = AioConfig(
            connect_timeout=self._request_timeout,
            read_timeout=self._request_timeout,
            retries={"total_max_attempts": 1, "mode": "standard"},
            max_pool_connections=self._max_connections,
            http_session_cls=_PreparedTLSSession,
        )
        session = await off_loop(self._prepare)
        stack = contextlib.AsyncExitStack()
        try:
            client = await stack.enter_async_context(
                session.client(_SERVICE, endpoint_url=self._endpoint_url, config=config)
            )
        except Exception as exc:
            await stack.aclose()
            raise translate(exc, "client setup", "") from exc
        self._stack = stack
        return client

    def _prepare(self) -> Any:
        """In a worker thread: the session, with everything its client creation would read
        from files (the service model, the endpoint rules and partitions, the retry and
        default-mode data, the shared config file) in the session's caches, and the TLS
        context for the CA bundle the client will verify with."""
        session = aioboto3.Session(**self._session_kwargs)
        try:
            _warm(session)
        except Exception:
            # It reaches into aioboto3's and botocore's private parts: should a release
            # change them, the client is built as before (reading its files on the loop).
            logger.debug("dynamodb: botocore's data could not be loaded ahead", exc_info=True)
        return session

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

        def failed(exc: Exception) -> None:
            error = translate(exc, operation, table)
            if attempts is not None and attempts.ambiguous and leaves_outcome_open(error):
                raise outcome_unknown(where(operation, table), str(error)) from exc
            raise error from exc

        return await self._retrier.run(
            attempt, what=where(operation, table), final=failed, attempts=attempts
        )


def _warm(session: Any) -> None:
    """Fill ``session``'s caches with what creating a DynamoDB client reads from files, and
    ``_TLS_CONTEXTS`` with the context for the CA bundle it will verify with."""
    core = session._session  # aioboto3 keeps its aiobotocore session private
    api_version = core.get_config_variable("api_versions").get(_SERVICE)
    loader = core.get_component("data_loader")
    loader.file_loader = _TurnTakingJSONFileLoader()
    for type_name in ("service-2", "endpoint-rule-set-1"):
        loader.load_service_model(_SERVICE, type_name, api_version=api_version)
    for name in ("partitions", "_retry", "sdk-default-configuration"):
        loader.load_data(name)
    core._get_internal_component("endpoint_resolver")
    # The bundle botocore's endpoint will verify with (its _get_verify_value).
    verify = core.get_config_variable("ca_bundle")
    if verify is None:
        verify = os.environ.get("REQUESTS_CA_BUNDLE", True)
    path = str(get_cert_path(verify))
    if path not in _TLS_CONTEXTS:
        context = create_urllib3_context()
        try:
            context.load_verify_locations(path, None, None)
        except (OSError, ssl.SSLError):
            # An unusable bundle stays aiobotocore's to report, at the first request.
            return
        _TLS_CONTEXTS[path] = context


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
