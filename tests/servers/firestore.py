"""Start Google's Firestore emulator (the Cloud CLI's Java jar) for tests and benchmarks.

``ASYNCDB_TEST_FIRESTORE_EMULATOR_HOST`` (``host:port``) points at an emulator that is
already running; then nothing is started. Otherwise the jar from the Debian package
``google-cloud-cli-firestore-emulator`` runs on 127.0.0.1 and a free port until the block
ends (its process group is killed, so no Java child outlives the run).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

from tests.servers._process import free_port, http_ready, running_server

__all__ = ["EMULATOR_HOST_VARIABLE", "TEST_PROJECT", "emulator_jar", "firestore_emulator"]

EMULATOR_HOST_VARIABLE = "ASYNCDB_TEST_FIRESTORE_EMULATOR_HOST"
#: A ``demo-`` project never reaches a real Google project, even by mistake.
TEST_PROJECT = "demo-asyncdb"
_PACKAGE = "google-cloud-cli-firestore-emulator"
_JAR_NAME = "cloud-firestore-emulator.jar"
_MAIN_CLASS = "com.google.cloud.datastore.emulator.firestore.CloudFirestore"


def emulator_jar() -> Path:
    """The emulator's jar; ``RuntimeError`` saying what is missing otherwise."""
    if shutil.which("java") is None:
        raise RuntimeError("java is not installed")
    if shutil.which("dpkg") is None:
        raise RuntimeError(f"dpkg is not available to locate {_PACKAGE}")
    listing = subprocess.run(
        ["dpkg", "-L", _PACKAGE],
        capture_output=True,
        text=True,
        check=False,
    )
    for line in listing.stdout.splitlines():
        if line.endswith(_JAR_NAME) and Path(line).is_file():
            return Path(line)
    raise RuntimeError(f"the Debian package {_PACKAGE} (with {_JAR_NAME}) is not installed")


@contextlib.contextmanager
def firestore_emulator() -> Iterator[str]:
    """Yield the ``host:port`` of a running emulator (started here unless given)."""
    given = os.environ.get(EMULATOR_HOST_VARIABLE)
    if given:
        yield given
        return
    jar = emulator_jar()
    port, websocket_port = free_port(), free_port()
    command = [
        "java",
        "-Duser.language=en",
        "-cp",
        str(jar),
        _MAIN_CLASS,
        "start",
        "--host=127.0.0.1",
        f"--port={port}",
        f"--websocket_port={websocket_port}",
    ]
    with running_server(
        command,
        http_ready(f"http://127.0.0.1:{port}/"),
        timeout=90.0,
        log_name="firestore-emulator",
    ):
        yield f"127.0.0.1:{port}"
