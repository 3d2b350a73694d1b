"""Migration speed: memory -> each backend through ``asyncdb.transfer.migrate`` (native
batch writes, one page read ahead) against copying the same documents one at a time
(``iter_all`` + ``save`` per document: what a hand-written script does).

Run: ``python -m benchmarks.bench_transfer``. Starts pouchdb-server, dynalite and the
Firestore emulator through the test harness (a backend that cannot start is reported).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator

from asyncdb import DatabaseService, create_database_service
from asyncdb._settings import settings_from_url
from asyncdb.drivers.memory import MemoryDriver
from asyncdb.testing.harness import random_prefix
from asyncdb.transfer import migrate
from benchmarks._harness import Row, print_table
from benchmarks.bench_memory import one_kb_document
from tests.backends.couchdb import couchdb_server
from tests.backends.dynamodb import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY, dynamodb_server
from tests.backends.firestore import TEST_PROJECT, firestore_emulator

COUNT = 3_000


@contextlib.contextmanager
def backend_urls() -> Iterator[dict[str, str]]:
    """Provider URL prefixes of every backend that could be started."""
    os.environ.setdefault("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID)
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY)
    urls: dict[str, str] = {}
    with contextlib.ExitStack() as stack:
        for name, start, to_url in [
            ("couchdb", couchdb_server, lambda u: u.replace("http", "couchdb", 1) + "?"),
            (
                "dynamodb",
                lambda: dynamodb_server("dynalite"),
                lambda e: f"dynamodb://?region={REGION}&endpoint={e.url}&",
            ),
            (
                "firestore",
                firestore_emulator,
                lambda h: f"firestore://{TEST_PROJECT}?emulator={h}&",
            ),
        ]:
            try:
                urls[name] = to_url(stack.enter_context(start()))  # type: ignore[no-untyped-call]
            except Exception as exc:  # noqa: BLE001 - report and measure the others
                print(f"{name}: server unavailable ({exc})")
        yield urls


async def _timed_copy(source: DatabaseService, target: DatabaseService, bulk: bool) -> float:
    started = time.perf_counter()
    if bulk:
        await migrate(source, target, ["agents"])
    else:
        async for doc in source.iter_all("agents"):
            await target.save("agents", doc["_id"], {k: v for k, v in doc.items() if k != "_rev"})
    return COUNT / (time.perf_counter() - started)


async def main() -> list[Row]:
    source = DatabaseService(MemoryDriver())
    docs = [{"_id": f"agent-{i:05d}", **one_kb_document(i)} for i in range(COUNT)]
    assert (await source.save_many("agents", docs)).ok
    rows = []
    with backend_urls() as urls:
        for name, base in urls.items():
            rates = {}
            for bulk in (True, False):
                url = f"{base}prefix={random_prefix()}"
                async with create_database_service(settings_from_url(url)) as target:
                    rates[bulk] = await _timed_copy(source, target, bulk)
                    await target.drop_collection("agents")
            rows.append(
                Row(
                    f"memory -> {name}, {COUNT} x 1 KB",
                    rates[True],
                    "one save per document",
                    rates[False],
                )
            )
    print_table("migrate (docs/s) vs a one-document-at-a-time copy", rows)
    return rows


if __name__ == "__main__":
    import asyncio

    asyncio.run(main())
