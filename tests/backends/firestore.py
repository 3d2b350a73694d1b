"""Start Google's Firestore emulator (the Cloud CLI's Java jar) for tests and benchmarks.

``ASYNCDB_TEST_FIRESTORE_EMULATOR_HOST`` (``host:port``) points at an emulator that is
already running; then nothing is started. Otherwise the emulator's jar runs on 127.0.0.1
and a free port until the block ends (its process group is killed, so no Java child
outlives the run). The jar is, in this order: the file named by
``ASYNCDB_FIRESTORE_EMULATOR_JAR``; the one in the Cloud SDK of the ``gcloud`` on ``PATH``
(``gcloud components install cloud-firestore-emulator`` puts it under
``platform/cloud-firestore-emulator/``); the one of the Debian package
``google-cloud-cli-firestore-emulator``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from tests.backends._process import ManagedServer, free_port, http_ready, running_server
from tests.backends.prerequisites import (
    EMULATOR_HINT,
    EMULATOR_HOST_VARIABLE,
    EMULATOR_JAR_VARIABLE,
    JAVA_MINIMUM,
    find_emulator_jar,
    java_major_version,
)

__all__ = [
    "EMULATOR_HOST_VARIABLE",
    "EMULATOR_JAR_VARIABLE",
    "TEST_PROJECT",
    "emulator_jar",
    "firestore_emulator",
    "firestore_managed",
]

#: A ``demo-`` project never reaches a real Google project, even by mistake.
TEST_PROJECT = "demo-asyncdb"
_MAIN_CLASS = "com.google.cloud.datastore.emulator.firestore.CloudFirestore"


def emulator_jar() -> Path:
    """The emulator's jar; ``RuntimeError`` saying in one line what is missing otherwise."""
    major = java_major_version()
    if major is None or major < JAVA_MINIMUM:
        found = "not installed" if major is None else f"Java {major}"
        raise RuntimeError(
            f"java {JAVA_MINIMUM} or later is needed ({found}), or set "
            f"{EMULATOR_HOST_VARIABLE}=host:port to use an emulator that is running"
        )
    jar = find_emulator_jar()
    if jar is None:
        raise RuntimeError(f"missing: {EMULATOR_HINT}")
    return jar


def _emulator_command(port: int) -> list[str]:
    jar = emulator_jar()
    return [
        "java",
        "-Duser.language=en",
        "-cp",
        str(jar),
        _MAIN_CLASS,
        "start",
        "--host=127.0.0.1",
        f"--port={port}",
        f"--websocket_port={free_port()}",
    ]


def firestore_managed() -> tuple[ManagedServer, str]:
    """An emulator (not started yet; it keeps everything in memory) and its ``host:port``."""
    port = free_port()
    server = ManagedServer(
        _emulator_command(port),
        http_ready(f"http://127.0.0.1:{port}/"),
        timeout=90.0,
        log_name="firestore-emulator-managed",
    )
    return server, f"127.0.0.1:{port}"


@contextlib.contextmanager
def firestore_emulator() -> Iterator[str]:
    """Yield the ``host:port`` of a running emulator (started here unless given)."""
    given = os.environ.get(EMULATOR_HOST_VARIABLE)
    if given:
        yield given
        return
    port = free_port()
    command = _emulator_command(port)
    with running_server(
        command,
        http_ready(f"http://127.0.0.1:{port}/"),
        timeout=90.0,
        log_name="firestore-emulator",
    ):
        yield f"127.0.0.1:{port}"
