"""Start pouchdb-server (a CouchDB stand-in) for the tests and benchmarks, or use a real
CouchDB named by ``ASYNCDB_TEST_COUCHDB_URL`` (credentials in the URL): then nothing starts.

pouchdb-server runs in memory from a scratch directory (it writes ``config.json`` and
``log.txt`` into its working directory). ``--unhandled-rejections=warn`` keeps Node 20 from
exiting on the rejections some malformed requests cause inside pouchdb-server.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from tests.servers._process import free_port, http_ready, npm_package, running_server

__all__ = ["ENV_VAR", "POUCHDB_SERVER_VERSION", "couchdb_server"]

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
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("node is not installed")
    entry = npm_package("pouchdb-server", POUCHDB_SERVER_VERSION, "bin/pouchdb-server")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    scratch = Path(tempfile.mkdtemp(prefix="asyncdb-pouchdb-"))
    command = [
        node,
        "--unhandled-rejections=warn",
        str(entry),
        "--in-memory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-color",
    ]
    try:
        with running_server(command, http_ready(url + "/"), cwd=scratch, log_name="pouchdb-server"):
            yield url
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
