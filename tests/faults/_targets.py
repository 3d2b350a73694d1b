"""Each backend's real server for a fault run, behind a fault proxy (memory has none).

The suite starts servers of its own, never the session's shared ones, because it pauses
and kills them. CouchDB (pouchdb-server), dynalite and PostgreSQL keep their data on disk,
so they are also killed with SIGKILL and started again over the same data. SQLite has no
server and no network: its fault is another connection holding the file's write lock past
the driver's busy timeout (``lock``), and a writer process of its own killed with SIGKILL
mid-write (``kill``: see ``tests/faults/_sqlite.py``). A variable that points the
test suite at an external server (``ASYNCDB_TEST_COUCHDB_URL`` …) is honoured: then only
the proxy's faults run, since the suite cannot pause or kill that server.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import tempfile
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from asyncdb._service import DatabaseService
from asyncdb.drivers.base import Driver
from asyncdb.drivers.memory import MemoryDriver
from tests.backends import couchdb, dynamodb, firestore, postgres
from tests.backends._process import ManagedServer, unavailable
from tests.faults._history import History
from tests.faults._proxy import FaultProxy

__all__ = ["BACKENDS", "REQUEST_TIMEOUT", "Target", "target"]

BACKENDS = ["memory", "couchdb", "dynalite", "moto", "firestore", "postgres", "sqlite"]
#: Short, so that stalls and pauses outlast it quickly; retries as in production.
REQUEST_TIMEOUT = 1.5
MAX_RETRIES = 3
#: A fault of a backend's own: given the run's schedule generator, it runs one episode.
Episode = Callable[[random.Random], Awaitable[None]]


@dataclass
class Target:
    name: str
    make_driver: Callable[[], Driver]
    proxy: FaultProxy | None = None
    server: ManagedServer | None = None
    persistent: bool = False
    own_faults: dict[str, Episode] = field(default_factory=dict)
    #: Episodes of ``own_faults`` run so far (the proxy counts its own).
    injected: Counter[str] = field(default_factory=Counter)
    #: The run's record and collection, set by the run before the faults start: a fault
    #: that writes on its own (SQLite's killed writer process) records its writes there.
    history: History | None = None
    collection: str = ""

    def service(self) -> DatabaseService:
        return DatabaseService(self.make_driver())

    @property
    def fault_kinds(self) -> list[str]:
        kinds = ["flaky", "lose", "down"] if self.proxy is not None else []
        if self.server is not None:
            kinds.append("pause")
            if self.persistent:
                kinds.append("kill")
        return kinds + sorted(self.own_faults)


@contextlib.contextmanager
def target(name: str, seed: int) -> Iterator[Target]:
    """The backend ``name`` ready for a run: its server started, its proxy listening."""
    if name == "memory":
        # Both services (the awaited one and the facade's) see one store: the memory
        # driver is thread-safe and its aclose() keeps the data.
        shared = MemoryDriver()
        yield Target("memory", lambda: shared)
        return
    if name == "sqlite":
        from tests.faults._sqlite import sqlite_target

        with sqlite_target() as chosen:
            yield chosen
        return
    scratch = Path(tempfile.mkdtemp(prefix=f"asyncdb-faults-{name}-"))
    server: ManagedServer | None = None
    try:
        try:
            server, upstream, build = _server(name, scratch)
            if server is not None:
                server.start()
        except Exception as exc:  # any failure to start: fail under CI, skip elsewhere
            unavailable(f"{name} (fault suite)", f"{type(exc).__name__}: {exc}")
            raise
        host, port = upstream
        proxy = FaultProxy(host, port, seed=seed)
        proxy.stall_seconds = REQUEST_TIMEOUT + 1.0
        proxy.start()
        try:
            yield Target(
                name,
                lambda: build(proxy),
                proxy,
                server,
                persistent=name in {"couchdb", "dynalite", "postgres"},
            )
        finally:
            proxy.stop()
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(scratch, ignore_errors=True)


Builder = Callable[[FaultProxy], Driver]


def _server(name: str, scratch: Path) -> tuple[ManagedServer | None, tuple[str, int], Builder]:
    if name == "couchdb":
        from asyncdb.drivers.couchdb import CouchDBDriver
        from asyncdb.drivers.couchdb._transport import parse_server_url

        external = os.environ.get(couchdb.ENV_VAR)
        server, url = (None, external) if external else couchdb.pouchdb_on_disk(scratch)
        address = parse_server_url(url, None, None)

        def couch(proxy: FaultProxy) -> Driver:
            return CouchDBDriver(
                proxy.url,
                user=address.user,
                password=address.password,
                request_timeout=REQUEST_TIMEOUT,
                connect_timeout=REQUEST_TIMEOUT,
                max_retries=MAX_RETRIES,
            )

        return server, _host_port(address.base_url), couch
    if name in {"dynalite", "moto"}:
        from asyncdb.drivers.dynamodb import DynamoDBDriver

        external = os.environ.get(dynamodb.ENV_VAR)
        if external:
            server, endpoint = None, dynamodb.DynamoDBEndpoint("external", external)
        elif name == "dynalite":
            server, endpoint = dynamodb.dynalite_managed(scratch / "data")
        else:
            server, endpoint = dynamodb.moto_managed()

        def dynamo(proxy: FaultProxy) -> Driver:
            kwargs: dict[str, object] = {
                **endpoint.driver_kwargs(),
                "endpoint_url": proxy.url,
                "request_timeout": REQUEST_TIMEOUT,
                "max_retries": MAX_RETRIES,
                "backoff_base": 0.02,
                "backoff_cap": 0.3,
            }
            return DynamoDBDriver(**kwargs)  # type: ignore[arg-type]

        return server, _host_port(endpoint.url), dynamo
    if name == "firestore":
        from asyncdb.drivers.firestore import FirestoreDriver

        given = os.environ.get(firestore.EMULATOR_HOST_VARIABLE)
        server, host = (None, given) if given else firestore.firestore_managed()

        def fire(proxy: FaultProxy) -> Driver:
            return FirestoreDriver(
                project=firestore.TEST_PROJECT,
                emulator_host=proxy.host,
                request_timeout=REQUEST_TIMEOUT,
                max_retries=MAX_RETRIES,
                retry_base_delay=0.02,
            )

        return server, _host_port(f"http://{host}"), fire
    if name == "postgres":
        from asyncdb.drivers.postgres import PostgresDriver

        given = os.environ.get(postgres.ENV_VAR)
        server, url = (None, given) if given else postgres.postgres_managed(scratch)

        def pg(proxy: FaultProxy) -> Driver:
            parts = urlsplit(url)
            credentials = parts.netloc.rpartition("@")[0]
            netloc = f"{credentials}@{proxy.host}" if credentials else proxy.host
            return PostgresDriver(
                urlunsplit((parts.scheme, netloc, parts.path, parts.query, "")),
                request_timeout=REQUEST_TIMEOUT,
                connect_timeout=REQUEST_TIMEOUT,
                max_retries=MAX_RETRIES,
            )

        return server, _host_port(url), pg
    raise ValueError(f"unknown backend {name!r}")


def _host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    if parts.hostname is None or parts.port is None:
        raise ValueError(f"{url} names no host and port")
    return parts.hostname, parts.port
