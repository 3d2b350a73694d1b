"""The driver's one gRPC connection to Firestore (or its emulator), and every RPC's retry.

The driver talks to the generated (GAPIC) ``FirestoreAsyncClient`` that the high-level
``google.cloud.firestore.AsyncClient`` wraps, because only it offers what the driver needs
in one RPC each: a full replace with an ``update_time`` or ``exists=false`` precondition
(``Commit``), per-write outcomes (``BatchWrite``) and raw protobuf messages that the codec
turns into plain JSON without building library objects first.

The emulator is addressed explicitly (an insecure channel to ``host:port`` with the
emulator's ``Bearer owner`` token), so the process environment is never modified and two
drivers may point at different emulators. Google credentials are loaded in a worker
thread, since ``google.auth`` reads files and may ask the metadata server.

``Transport`` opens the connection on first use (the first caller opens it, the others
wait for it) and closes it only if it created the client: a ``FirestoreAsyncClient`` the
user passed stays the user's, open after ``close()``. A driver is used on the one event
loop it was opened on (the face refuses calls from another loop), so one connection
serves it. ``Transport.call`` runs each RPC under the one retry policy and turns
the failure it gives up on into an asyncdb error.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final, TypeVar

import google.auth
import grpc
from google.auth import exceptions as auth_exc
from google.cloud.firestore_v1.services.firestore import FirestoreAsyncClient
from google.cloud.firestore_v1.services.firestore.transports import (
    FirestoreGrpcAsyncIOTransport,
)

from asyncdb._offload import off_loop
from asyncdb._retry import Attempts, RetryPolicy
from asyncdb.drivers._once import OpenedOnce
from asyncdb.drivers._retried import Retrier
from asyncdb.drivers.firestore import _errors, _ids
from asyncdb.errors import ConfigurationError

__all__ = [
    "DEFAULT_EMULATOR_PROJECT",
    "Connection",
    "ConnectionConfig",
    "Transport",
    "check_client_config",
    "connect",
]

logger = logging.getLogger("asyncdb")

T = TypeVar("T")

#: The project the Google client library itself assumes on an emulator, so that tools
#: sharing one emulator without a configured project see the same data.
DEFAULT_EMULATOR_PROJECT: Final = "google-cloud-firestore-emulator"
_MESSAGE_SIZE_OPTIONS: Final = (
    ("grpc.max_send_message_length", -1),
    ("grpc.max_receive_message_length", -1),
)
_CHANNEL_OPTIONS: Final = (("grpc.keepalive_time_ms", 30_000), *_MESSAGE_SIZE_OPTIONS)


@dataclass(frozen=True, slots=True)
class ConnectionConfig:
    """Where to connect; ``credentials`` (a google-auth object) stays its owner's."""

    project: str | None
    database: str
    emulator_host: str | None
    credentials_file: str | None = None
    credentials: Any = None


@dataclass(slots=True)
class Connection:
    """A connected client and the names every request needs."""

    client: Any  # FirestoreAsyncClient
    project: str
    database_path: str  # projects/<p>/databases/<d>
    documents_path: str  # projects/<p>/databases/<d>/documents
    metadata: tuple[tuple[str, str], ...]
    #: Whether the driver created ``client`` (and so closes it).
    owned: bool = True

    def name(self, collection: str, doc_id: str) -> str:
        """The full resource name of the document a caller's id names."""
        return f"{self.documents_path}/{collection}/{_ids.stored_id(doc_id)}"

    async def close(self) -> None:
        """Close the gRPC channel, if the driver opened it; a user's client stays open."""
        if self.owned:
            await self.client.transport.close()


def emulator_target(host: str) -> str:
    """``host:port`` from a FIRESTORE_EMULATOR_HOST value (a scheme is tolerated)."""
    for scheme in ("http://", "https://"):
        if host.startswith(scheme):
            host = host[len(scheme) :]
    return host.rstrip("/")


def check_client_config(config: ConnectionConfig) -> None:
    """Refuse a user's client the driver cannot address: without credentials of its own
    to read, the driver learns the project only from the configuration."""
    if not config.project and not config.emulator_host:
        raise ConfigurationError(
            "FirestoreDriver(client=...) needs the project: pass project= (or set "
            "GOOGLE_CLOUD_PROJECT), or emulator_host= for a client of the emulator"
        )


async def connect(config: ConnectionConfig, client: Any = None) -> Connection:
    """Open a client inside the running event loop (gRPC channels belong to one loop), or
    use ``client``, a user's ``FirestoreAsyncClient`` (then no credentials are loaded:
    the client has its own, and the project must be configured or the emulator's)."""
    metadata: list[tuple[str, str]] = []
    if config.emulator_host:
        # The emulator's "owner" token is also what a user's emulator client needs.
        metadata.append(("authorization", "Bearer owner"))
    if client is not None:
        check_client_config(config)
        project = config.project or DEFAULT_EMULATOR_PROJECT
        return _connection(client, project, config.database, metadata, owned=False)
    if config.emulator_host:
        target = emulator_target(config.emulator_host)
        project = config.project or DEFAULT_EMULATOR_PROJECT
        channel = grpc.aio.insecure_channel(target, options=list(_MESSAGE_SIZE_OPTIONS))
        # The emulator accepts the fixed token added above as "the owner" (no rules).
        transport = FirestoreGrpcAsyncIOTransport(host=target, channel=channel)
    else:
        credentials, found_project = await _credentials(config)
        project_or_none = config.project or found_project
        if not project_or_none:
            raise ConfigurationError(
                "GOOGLE_CLOUD_PROJECT is not set and the Google credentials name no project "
                "(or set FIRESTORE_EMULATOR_HOST to use the emulator)"
            )
        project = project_or_none
        channel = FirestoreGrpcAsyncIOTransport.create_channel(
            FirestoreGrpcAsyncIOTransport.DEFAULT_HOST,
            credentials=credentials,
            options=list(_CHANNEL_OPTIONS),
        )
        transport = FirestoreGrpcAsyncIOTransport(
            host=FirestoreGrpcAsyncIOTransport.DEFAULT_HOST, channel=channel
        )
    return _connection(
        FirestoreAsyncClient(transport=transport), project, config.database, metadata, owned=True
    )


def _connection(
    client: Any, project: str, database: str, metadata: list[tuple[str, str]], *, owned: bool
) -> Connection:
    database_path = f"projects/{project}/databases/{database}"
    metadata.append(("google-cloud-resource-prefix", database_path))
    logger.debug(
        "firestore: %s %s", "connected to" if owned else "using a given client for", database_path
    )
    return Connection(
        client, project, database_path, f"{database_path}/documents", tuple(metadata), owned
    )


async def _credentials(config: ConnectionConfig) -> tuple[Any, str | None]:
    scopes = list(FirestoreGrpcAsyncIOTransport.AUTH_SCOPES)
    if config.credentials is not None:
        return config.credentials, getattr(config.credentials, "project_id", None)
    try:
        path = config.credentials_file
        if path and path != os.environ.get("GOOGLE_APPLICATION_CREDENTIALS"):
            # A file other than the one google.auth.default() reads by itself (the
            # generic loader is deprecated upstream, but it is the user's own file).
            loaded = await off_loop(
                lambda: google.auth.load_credentials_from_file(path, scopes=scopes)  # type: ignore[no-untyped-call]
            )
        else:
            loaded = await off_loop(lambda: google.auth.default(scopes=scopes))
    except auth_exc.DefaultCredentialsError as exc:
        raise ConfigurationError(
            "no usable Google credentials: set GOOGLE_APPLICATION_CREDENTIALS to a credentials "
            "file (or run where application-default credentials exist), and "
            "GOOGLE_CLOUD_PROJECT"
        ) from exc
    credentials, project = loaded
    return credentials, project


class Transport:
    """The connection of one driver, opened by its first caller, and the retried RPC."""

    def __init__(
        self,
        config: ConnectionConfig,
        *,
        policy: RetryPolicy,
        timeout: float,
        client: Any = None,
    ) -> None:
        self.config = config
        self.policy = policy
        self._retrier = Retrier(policy, _errors.classify)
        #: Seconds per RPC attempt.
        self.timeout = timeout
        self._client = client
        self._connection: OpenedOnce[Connection] = OpenedOnce()

    async def connection(self) -> Connection:
        """The open connection; the first caller opens it while the others wait."""
        return await self._connection.get(lambda: connect(self.config, self._client))

    async def close(self) -> None:
        """Close the connection if this transport created its client; a later call opens
        a new one (over the user's client again, when one was given)."""
        await self._connection.close(Connection.close)

    async def call(
        self,
        where: str,
        call: Callable[[], Awaitable[T]],
        *,
        attempts: Attempts | None = None,
        conflict_may_be_own: bool = False,
    ) -> T:
        """``await call()`` under the retry policy; a Google failure it gives up on becomes
        an asyncdb error (``_errors.final_error``). ``attempts``: the call is a write, and
        its attempts are recorded there; ``conflict_may_be_own``: it is a conditional write,
        so a conflict after an ambiguous attempt may be that attempt's doing."""

        def failed(exc: Exception) -> None:
            if isinstance(exc, _errors.GOOGLE_ERRORS):
                raise _errors.final_error(
                    exc, where, attempts, conflict_may_be_own=conflict_may_be_own
                ) from exc

        return await self._retrier.run(call, what=where, final=failed, attempts=attempts)
