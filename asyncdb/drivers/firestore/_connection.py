"""One gRPC connection to Firestore (or its emulator): the generated async client.

The driver talks to the generated (GAPIC) ``FirestoreAsyncClient`` that the high-level
``google.cloud.firestore.AsyncClient`` wraps, because only it offers what the driver needs
in one RPC each: a full replace with an ``update_time`` or ``exists=false`` precondition
(``Commit``), per-write outcomes (``BatchWrite``) and raw protobuf messages that the codec
turns into plain JSON without building library objects first.

The emulator is addressed explicitly (an insecure channel to ``host:port`` with the
emulator's ``Bearer owner`` token), so the process environment is never modified and two
drivers may point at different emulators. Google credentials are loaded in a worker
thread, since ``google.auth`` reads files and may ask the metadata server.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any, Final

import anyio.to_thread
import google.auth
import grpc
from google.auth import exceptions as auth_exc
from google.cloud.firestore_v1.services.firestore import FirestoreAsyncClient
from google.cloud.firestore_v1.services.firestore.transports import (
    FirestoreGrpcAsyncIOTransport,
)

from asyncdb.errors import ConfigurationError

__all__ = ["DEFAULT_EMULATOR_PROJECT", "Connection", "ConnectionConfig", "connect"]

logger = logging.getLogger("asyncdb")

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

    async def close(self) -> None:
        """Close the gRPC channel."""
        await self.client.transport.close()


def emulator_target(host: str) -> str:
    """``host:port`` from a FIRESTORE_EMULATOR_HOST value (a scheme is tolerated)."""
    for scheme in ("http://", "https://"):
        if host.startswith(scheme):
            host = host[len(scheme) :]
    return host.rstrip("/")


async def connect(config: ConnectionConfig) -> Connection:
    """Open a client inside the running event loop (gRPC channels belong to one loop)."""
    metadata: list[tuple[str, str]] = []
    if config.emulator_host:
        target = emulator_target(config.emulator_host)
        project = config.project or DEFAULT_EMULATOR_PROJECT
        channel = grpc.aio.insecure_channel(target, options=list(_MESSAGE_SIZE_OPTIONS))
        transport = FirestoreGrpcAsyncIOTransport(host=target, channel=channel)
        # The emulator accepts this fixed token as "the owner" (no security rules).
        metadata.append(("authorization", "Bearer owner"))
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
    client = FirestoreAsyncClient(transport=transport)
    database_path = f"projects/{project}/databases/{config.database}"
    metadata.append(("google-cloud-resource-prefix", database_path))
    logger.debug("firestore: connected to %s", database_path)
    return Connection(client, project, database_path, f"{database_path}/documents", tuple(metadata))


async def _credentials(config: ConnectionConfig) -> tuple[Any, str | None]:
    scopes = list(FirestoreGrpcAsyncIOTransport.AUTH_SCOPES)
    if config.credentials is not None:
        return config.credentials, getattr(config.credentials, "project_id", None)
    try:
        path = config.credentials_file
        if path and path != os.environ.get("GOOGLE_APPLICATION_CREDENTIALS"):
            # A file other than the one google.auth.default() reads by itself (the
            # generic loader is deprecated upstream, but it is the user's own file).
            loaded = await anyio.to_thread.run_sync(
                lambda: google.auth.load_credentials_from_file(path, scopes=scopes)  # type: ignore[no-untyped-call]
            )
        else:
            loaded = await anyio.to_thread.run_sync(lambda: google.auth.default(scopes=scopes))
    except auth_exc.DefaultCredentialsError as exc:
        raise ConfigurationError(
            "no usable Google credentials: set GOOGLE_APPLICATION_CREDENTIALS to a credentials "
            "file (or run where application-default credentials exist), and "
            "GOOGLE_CLOUD_PROJECT"
        ) from exc
    credentials, project = loaded
    return credentials, project
