"""Start pouchdb-server (a CouchDB stand-in) for the tests and benchmarks, or use a real
CouchDB named by ``ASYNCDB_TEST_COUCHDB_URL`` (credentials in the URL): then nothing starts.

pouchdb-server runs in memory from a scratch directory (it writes ``config.json`` and
``log.txt`` into its working directory). ``--unhandled-rejections=warn`` keeps Node 20 from
exiting on the rejections some malformed requests cause inside pouchdb-server.
``pouchdb_on_disk`` runs one that keeps its databases in a directory (LevelDB), so that
the fault suite can kill it with SIGKILL and start it again over the same data.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from tests.backends._process import (
    ManagedServer,
    free_port,
    http_ready,
    npm_package,
    running_server,
)

__all__ = ["ENV_VAR", "POUCHDB_SERVER_VERSION", "couchdb_server", "pouchdb_on_disk"]

ENV_VAR = "ASYNCDB_TEST_COUCHDB_URL"
#: Pinned so that every run tests the same stand-in (``npm view pouchdb-server version``).
POUCHDB_SERVER_VERSION = "4.2.0"


@contextlib.contextmanager
def couchdb_server() -> Iterator[str]:
    """Yield the base URL of a CouchDB-compatible server, started here unless the
    environment names one. Raises ``RuntimeError`` when no server can be started."""
    external = os.environ.get(ENV_VAR)
    if external:
        yield external.rstrip("/")
        return
    port = free_port()
    scratch = Path(tempfile.mkdtemp(prefix="asyncdb-pouchdb-"))
    try:
        command = _pouchdb_command(port, in_memory=True)
        url = f"http://127.0.0.1:{port}"
        with running_server(command, http_ready(url + "/"), cwd=scratch, log_name="pouchdb-server"):
            yield url
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def pouchdb_on_disk(directory: Path) -> tuple[ManagedServer, str]:
    """A pouchdb-server (not started yet) that stores its databases in ``directory``, and
    its base URL; it listens on the same port each time it is started."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = ManagedServer(
        _pouchdb_command(port, in_memory=False),
        http_ready(url + "/"),
        cwd=directory,
        log_name="pouchdb-server-disk",
    )
    return server, url


def _pouchdb_command(port: int, *, in_memory: bool) -> list[str]:
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("node is not installed")
    entry = npm_package("pouchdb-server", POUCHDB_SERVER_VERSION, "bin/pouchdb-server")
    command = [node, "--unhandled-rejections=warn", str(entry)]
    if in_memory:
        command.append("--in-memory")
    return [*command, "--host", "127.0.0.1", "--port", str(port), "--no-color"]
