"""Migration to and from SQLite (memory ⇄ sqlite, sqlite ⇄ another sqlite file) and
export/import through a file, with the property-based generator's awkward documents and
ids: verified identical, exact types and key order included. (The between-backends test,
tests/transfer, also covers every real backend pair once their servers run.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings

from asyncdb import DatabaseService
from asyncdb.drivers.memory import MemoryDriver
from asyncdb.drivers.sqlite import SQLiteDriver
from asyncdb.testing.strategies import document_ids, documents
from asyncdb.transfer import export_collections, import_file, migrate, verify


def _awkward(count: int) -> list[dict[str, Any]]:
    drawn: dict[str, dict[str, Any]] = {}

    @settings(
        max_examples=count * 3,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(doc_id=document_ids, body=documents)
    def collect(doc_id: str, body: dict[str, Any]) -> None:
        if len(drawn) < count:
            drawn.setdefault(doc_id, {"_id": doc_id, **body})

    collect()
    return list(drawn.values())


async def test_memory_to_sqlite_and_back_and_through_a_file(tmp_path: Path) -> None:
    awkward = _awkward(200)
    plain = [{"_id": f"doc-{n:04}", "n": n, "f": n / 7, "ok": n % 2 == 0} for n in range(1500)]
    source = DatabaseService(MemoryDriver())
    for name, docs in (("awkward", awkward), ("plain", plain)):
        for start in range(0, len(docs), 500):
            assert (await source.save_many(name, docs[start : start + 500])).ok
    collections = ["awkward", "plain"]
    first = DatabaseService(SQLiteDriver(str(tmp_path / "first.sqlite3")))
    second = DatabaseService(SQLiteDriver(str(tmp_path / "second.sqlite3")))
    back = DatabaseService(MemoryDriver())
    try:
        for target, origin in ((first, source), (second, first), (back, second)):
            report = await migrate(origin, target, collections)
            assert report.total == len(awkward) + len(plain)
            result = await verify(origin, target, collections)
            assert result.equal, result.differences[:5]
        # Exact types and key order survive the two files.
        for doc in awkward[:50]:
            got = await back.get("awkward", doc["_id"])
            assert list(got)[2:] == [key for key in doc if key != "_id"]
        export = tmp_path / "export.ndjson.gz"
        assert (await export_collections(second, export, collections)).total == report.total
        restored = DatabaseService(SQLiteDriver(str(tmp_path / "restored.sqlite3")))
        try:
            assert (await import_file(restored, export)).total == report.total
            assert (await verify(second, restored, collections)).equal
        finally:
            await restored.aclose()
    finally:
        for service in (source, first, second, back):
            await service.aclose()
