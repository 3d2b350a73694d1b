"""``asyncdb serve`` under concurrent HTTP load, against the pattern it replaces: an async
FastAPI handler that calls a *blocking* database client.

Every server is a real uvicorn process (one worker) on loopback; the load generator is an
``httpx.AsyncClient`` keeping ``CONCURRENCY`` requests in flight, ``COUNT`` per run.

Rows:

- **memory, no I/O**: ``asyncdb serve`` on the memory provider against a handler reading
  a dict under a lock. Nothing waits on I/O here, so this measures asyncdb's own
  overhead per request (validation, revisions, copies, error shaping) — the baseline
  does less work and should win.
- **simulated I/O of L ms**: the same two servers with the latency of one backend round
  trip added to every database call — ``await anyio.sleep(L)`` in a driver middleware for
  asyncdb, ``time.sleep(L)`` (blocking, as a synchronous client blocks) for the baseline.
  L is the mean latency measured for the CouchDB stand-in when it runs, else 2 ms. This is
  a simulation: it shows what blocking the event loop costs, not a real backend. A
  second pair uses 20 ms, a remote cloud database's round trip (200 requests per run).
- **CouchDB (pouchdb-server)**: ``asyncdb serve`` on the CouchDB driver against a handler
  calling CouchDB with the blocking ``requests`` library. Runs when the test harness can
  start pouchdb-server (Node.js); pouchdb-server is a stand-in, not Apache CouchDB.

Run: ``python -m benchmarks.bench_server``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx

from benchmarks._harness import Row, ops_per_second, print_table

CONCURRENCY = 32
COUNT = 600
DEFAULT_LATENCY = 0.002
#: A remote cloud database's round trip (Firestore, DynamoDB from another region).
REMOTE_LATENCY = 0.020
DOC: dict[str, Any] = {
    "name": "agent",
    "description": "An agent that summarises tickets. " * 8,
    "n": 1,
}


# -- the servers (each runs in its own process) ------------------------------------------------
def _baseline_app(latency: float, couchdb_url: str | None) -> Any:
    """Async handlers over a blocking client: a dict + lock (with ``time.sleep`` as the
    I/O), or ``requests`` against CouchDB."""
    import requests
    from fastapi import FastAPI, HTTPException

    app = FastAPI()
    lock = threading.Lock()
    rows: dict[str, dict[str, Any]] = {}
    session = requests.Session()

    @app.get("/v1/{collection}/{doc_id}")
    async def get(collection: str, doc_id: str) -> dict[str, Any]:
        if couchdb_url is not None:
            reply = session.get(f"{couchdb_url}/{collection}/{doc_id}", timeout=30)
            if reply.status_code == 404:
                raise HTTPException(404)
            found: dict[str, Any] = reply.json()
            return found
        time.sleep(latency)  # noqa: ASYNC251 - the blocking client's round trip
        with lock:
            if doc_id not in rows:
                raise HTTPException(404)
            return dict(rows[doc_id])

    @app.put("/v1/{collection}/{doc_id}")
    async def put(collection: str, doc_id: str, body: dict[str, Any]) -> dict[str, Any]:
        if couchdb_url is not None:
            current = session.get(f"{couchdb_url}/{collection}/{doc_id}", timeout=30)
            if current.status_code == 200:
                body = {**body, "_rev": current.json()["_rev"]}
            reply = session.put(f"{couchdb_url}/{collection}/{doc_id}", json=body, timeout=30)
            return {"_id": doc_id, "_rev": reply.json().get("rev"), **body}
        time.sleep(latency)  # noqa: ASYNC251 - the pattern measured
        with lock:
            rows[doc_id] = dict(body)
        return {"_id": doc_id, **body}

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def _asyncdb_latency_app(latency: float) -> Any:
    """``asyncdb serve``'s app on the memory driver, every driver call delayed by an
    awaited sleep of ``latency`` (non-blocking, as a native async client waits)."""
    import anyio

    from asyncdb._service import DatabaseService
    from asyncdb.drivers.base import Body, Record
    from asyncdb.drivers.memory import MemoryDriver
    from asyncdb.middleware.base import DriverWrapper
    from asyncdb.server import ServerConfig, create_app

    class Latency(DriverWrapper):
        async def get(self, collection: str, doc_id: str) -> Record | None:
            await anyio.sleep(latency)
            return await super().get(collection, doc_id)

        async def put(
            self,
            collection: str,
            doc_id: str,
            body: Body,
            *,
            if_rev: str | None = None,
            if_absent: bool = False,
        ) -> str:
            await anyio.sleep(latency)
            return await super().put(collection, doc_id, body, if_rev=if_rev, if_absent=if_absent)

    service = DatabaseService(Latency(MemoryDriver()))
    return create_app(service=service, config=ServerConfig(log_level="warning"))


def _serve(argv: list[str]) -> None:
    import uvicorn

    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=["baseline", "asyncdb-latency"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--couchdb-url")
    args = parser.parse_args(argv)
    if args.kind == "baseline":
        app = _baseline_app(args.latency, args.couchdb_url)
    else:
        app = _asyncdb_latency_app(args.latency)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


# -- the load generator ------------------------------------------------------------------------
def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def _server(command: list[str], env: dict[str, str] | None = None) -> Iterator[str]:
    port = _free_port()
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("ASYNCDB_")}
    full_env.update(env or {})
    full_env["ASYNCDB_LOG_LEVEL"] = "warning"
    process = subprocess.Popen(
        [*command, "--port", str(port)],
        env=full_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"server {command} did not start")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=20)


ASYNCDB_SERVE = [sys.executable, "-m", "asyncdb.cli", "serve"]
SELF = [sys.executable, "-m", "benchmarks.bench_server", "--serve"]


async def _rates(url: str, collection: str, count: int = COUNT) -> tuple[float, float]:
    """(GET/s, PUT/s) against ``url`` with ``CONCURRENCY`` requests in flight."""
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:
        for index in range(50):
            (await client.put(f"/v1/{collection}/d{index}", json=DOC)).raise_for_status()

        async def get(index: int) -> None:
            (await client.get(f"/v1/{collection}/d{index % 50}")).raise_for_status()

        async def put(index: int) -> None:
            (await client.put(f"/v1/{collection}/p{index}", json=DOC)).raise_for_status()

        gets = await ops_per_second(get, count, concurrency=CONCURRENCY)
        puts = await ops_per_second(put, count, concurrency=CONCURRENCY)
    return gets, puts


def _couchdb_latency(url: str) -> float:
    """Mean seconds of one blocking GET of a small document from CouchDB."""
    import requests

    with requests.Session() as session:
        session.put(f"{url}/latency_probe", timeout=30)
        session.put(f"{url}/latency_probe/doc", json=DOC, timeout=30)
        started = time.perf_counter()
        for _ in range(200):
            session.get(f"{url}/latency_probe/doc", timeout=30).raise_for_status()
        return (time.perf_counter() - started) / 200


async def main() -> list[Row]:
    rows: list[Row] = []
    with contextlib.ExitStack() as stack:
        couchdb_url: str | None = None
        try:
            from tests.backends.couchdb import couchdb_server

            couchdb_url = stack.enter_context(couchdb_server())
        except (ImportError, RuntimeError, OSError) as exc:
            print(f"(CouchDB rows skipped: {exc})")
        latency = DEFAULT_LATENCY if couchdb_url is None else _couchdb_latency(couchdb_url)
        label = f"{latency * 1000:.1f} ms"

        with _server(ASYNCDB_SERVE) as url:
            get, put = await _rates(url, "bench")
        with _server([*SELF, "baseline", "--latency", "0"]) as url:
            base_get, base_put = await _rates(url, "bench")
        rows += [
            Row("GET, memory, no I/O", get, "dict + lock in async handler", base_get),
            Row("PUT, memory, no I/O", put, "dict + lock in async handler", base_put),
        ]

        for delay, name, count in ((latency, label, COUNT), (REMOTE_LATENCY, "20 ms", 200)):
            with _server([*SELF, "asyncdb-latency", "--latency", str(delay)]) as url:
                get, put = await _rates(url, "bench", count)
            with _server([*SELF, "baseline", "--latency", str(delay)]) as url:
                base_get, base_put = await _rates(url, "bench", count)
            rows += [
                Row(f"GET, {name} awaited I/O", get, f"{name} blocking sleep", base_get),
                Row(f"PUT, {name} awaited I/O", put, f"{name} blocking sleep", base_put),
            ]

        if couchdb_url is not None:
            env = {"DATABASE_PROVIDER": "couchdb", "COUCHDB_URL": couchdb_url}
            with _server(ASYNCDB_SERVE, env) as url:
                get, put = await _rates(url, "bench_asyncdb")
            async with httpx.AsyncClient() as client:
                await client.put(f"{couchdb_url}/bench_baseline", timeout=30)
            with _server([*SELF, "baseline", "--couchdb-url", couchdb_url]) as url:
                base_get, base_put = await _rates(url, "bench_baseline")
            rows += [
                Row("GET, CouchDB (pouchdb-server)", get, "requests in async handler", base_get),
                Row("PUT, CouchDB (pouchdb-server)", put, "requests in async handler", base_put),
            ]
    print_table(
        f"asyncdb serve vs blocking client in async handlers: requests/s, "
        f"{CONCURRENCY} in flight, {COUNT} per run, one uvicorn worker",
        rows,
    )
    return rows


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        _serve(sys.argv[2:])
    else:
        asyncio.run(main())
