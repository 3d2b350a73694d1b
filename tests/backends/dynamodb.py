"""Start a DynamoDB emulator for the tests and benchmarks, or use the endpoint named by
``ASYNCDB_TEST_DYNAMODB_URL`` (any DynamoDB-compatible server): then nothing starts.

Two independent emulators, because each has its own quirks:
- dynalite (npm, pure JavaScript): close to AWS on limits and number normalisation;
- moto (PyPI ``moto[server]``): lax on limits, keeps numbers as written.
Both take any credentials; the tests use dummy ones and region ``us-east-1``.
``dynalite_managed`` / ``moto_managed`` give servers that the fault suite may pause, kill
and restart (dynalite with ``path`` keeps its tables in a LevelDB directory across restarts).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.backends._process import (
    ManagedServer,
    free_port,
    http_ready,
    npm_package,
    running_server,
)

__all__ = [
    "DYNALITE_VERSION",
    "ENV_VAR",
    "REGION",
    "DynamoDBEndpoint",
    "dynalite_managed",
    "dynalite_server",
    "dynamodb_server",
    "moto_managed",
    "moto_server",
]

ENV_VAR = "ASYNCDB_TEST_DYNAMODB_URL"
#: Pinned so that every run tests the same emulator (``npm view dynalite version``).
DYNALITE_VERSION = "4.0.0"
REGION = "us-east-1"
ACCESS_KEY_ID = "asyncdb-test"
SECRET_ACCESS_KEY = "asyncdb-test-secret"


@dataclass(frozen=True)
class DynamoDBEndpoint:
    """Where a DynamoDB-compatible server answers, and which one it is."""

    kind: str  # "dynalite", "moto" or "external"
    url: str

    def driver_kwargs(self) -> dict[str, str]:
        """Keyword arguments for ``DynamoDBDriver`` (dummy credentials unless external)."""
        kwargs = {"endpoint_url": self.url, "region": REGION}
        if self.kind != "external" or not os.environ.get("AWS_ACCESS_KEY_ID"):
            kwargs["aws_access_key_id"] = ACCESS_KEY_ID
            kwargs["aws_secret_access_key"] = SECRET_ACCESS_KEY
        return kwargs


@contextlib.contextmanager
def dynalite_server(table_delay_ms: int = 0) -> Iterator[DynamoDBEndpoint]:
    """Run dynalite (installed under the test cache on first use) until the block ends.

    ``table_delay_ms`` is how long tables stay CREATING or DELETING, as on AWS (where it
    takes seconds); 0 makes the suites fast, a delay lets a test see the transitions."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = _dynalite_command(port, table_delay_ms, None)
    with running_server(command, http_ready(url + "/"), log_name="dynalite"):
        yield DynamoDBEndpoint("dynalite", url)


@contextlib.contextmanager
def moto_server() -> Iterator[DynamoDBEndpoint]:
    """Run moto's server (one request at a time, ``_moto_serialised``) until the block ends."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = _moto_command(port)
    with running_server(command, http_ready(url + "/moto-api/"), log_name="moto"):
        yield DynamoDBEndpoint("moto", url)


@contextlib.contextmanager
def dynamodb_server(kind: str = "dynalite") -> Iterator[DynamoDBEndpoint]:
    """The server of ``kind`` ("dynalite" or "moto"), or the external one if the
    environment names it. Raises ``RuntimeError`` when no server can be started."""
    external = os.environ.get(ENV_VAR)
    if external:
        yield DynamoDBEndpoint("external", external.rstrip("/"))
        return
    server = dynalite_server if kind == "dynalite" else moto_server
    with server() as endpoint:
        yield endpoint


def dynalite_managed(path: Path | None = None) -> tuple[ManagedServer, DynamoDBEndpoint]:
    """A dynalite (not started yet) on a port of its own; with ``path`` its tables live in
    that LevelDB directory and survive a restart."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = ManagedServer(
        _dynalite_command(port, 0, path), http_ready(url + "/"), log_name="dynalite-managed"
    )
    return server, DynamoDBEndpoint("dynalite", url)


def moto_managed() -> tuple[ManagedServer, DynamoDBEndpoint]:
    """A moto server (not started yet; it keeps everything in memory)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = ManagedServer(
        _moto_command(port), http_ready(url + "/moto-api/"), log_name="moto-managed"
    )
    return server, DynamoDBEndpoint("moto", url)


def _dynalite_command(port: int, table_delay_ms: int, path: Path | None) -> list[str]:
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("node is not installed")
    entry = npm_package("dynalite", DYNALITE_VERSION, "cli.js")
    command = [node, str(entry), "--host", "127.0.0.1", "--port", str(port)]
    for option in ("--createTableMs", "--deleteTableMs", "--updateTableMs"):
        command += [option, str(table_delay_ms)]
    if path is not None:
        command += ["--path", str(path)]
    return command


def _moto_command(port: int) -> list[str]:
    # Not ``python -m moto.server``: its conditional writes race (see _moto_serialised).
    return [sys.executable, str(Path(__file__).with_name("_moto_serialised.py")), str(port)]
