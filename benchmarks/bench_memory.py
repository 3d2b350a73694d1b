"""The memory driver through the face against a plain dict doing the same copies.

The baseline stores each document as JSON text in a dict and parses it on every read:
the least work that still keeps callers from aliasing stored data (what asyncdb
promises). The difference is the face's cost: validation, conversion, size measure,
revisions, locking. Run: ``python -m benchmarks.bench_memory``.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from asyncdb._service import DatabaseService
from asyncdb.drivers.memory import MemoryDriver
from benchmarks._harness import Row, ops_per_second, print_table

COUNT = 5_000
LIST_SIZE = 1_000


def one_kb_document(index: int) -> dict[str, Any]:
    """A document of about 1 KB, shaped like the application's agent records."""
    return {
        "name": f"agent-{index}",
        "description": "An agent that summarises support tickets and drafts replies. " * 3,
        "friendly_name": f"agent-{index}",
        "tools": {"search": ["web", "docs"], "code": ["python"]},
        "input_schema": {"query": "str", "limit": "int"},
        "output_schema": {"answer": "str", "cost": "float"},
        "gofannon_agents": [f"dep-{n}" for n in range(5)],
        "created_at": "2026-11-26T10:00:00+00:00",
        "updated_at": "2026-11-26T10:00:00+00:00",
        "code": "def run(query):\n    return query.upper()\n" * 8,
        "score": 0.5 + index,
        "enabled": True,
    }


class DictBaseline:
    """A plain dict of JSON text: the same copies, nothing else."""

    def __init__(self) -> None:
        self.rows: dict[str, str] = {}

    async def save(self, doc_id: str, doc: dict[str, Any]) -> dict[str, Any]:
        self.rows[doc_id] = json.dumps(doc, separators=(",", ":"))
        return {"_id": doc_id, **doc}

    async def get(self, doc_id: str) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.rows[doc_id])
        return {"_id": doc_id, **loaded}

    async def list_all(self) -> list[dict[str, Any]]:
        return [{"_id": k, **json.loads(v)} for k, v in sorted(self.rows.items())]


async def main() -> list[Row]:
    docs = [one_kb_document(index) for index in range(COUNT)]
    size = len(json.dumps(docs[0]))
    db = DatabaseService(MemoryDriver())
    baseline = DictBaseline()

    save = await ops_per_second(lambda i: db.save("agents", f"id{i}", docs[i]), COUNT)
    base_save = await ops_per_second(lambda i: baseline.save(f"id{i}", docs[i]), COUNT)
    get = await ops_per_second(lambda i: db.get("agents", f"id{i}"), COUNT)
    base_get = await ops_per_second(lambda i: baseline.get(f"id{i}"), COUNT)

    small = DatabaseService(MemoryDriver())
    small_baseline = DictBaseline()
    for index in range(LIST_SIZE):
        await small.save("agents", f"id{index:04d}", docs[index])
        await small_baseline.save(f"id{index:04d}", docs[index])
    listing = await ops_per_second(lambda _: small.list_all("agents"), 20)
    base_listing = await ops_per_second(lambda _: small_baseline.list_all(), 20)

    rows = [
        Row(f"save ({size} B doc)", save, "dict + json.dumps", base_save),
        Row(f"get ({size} B doc)", get, "dict + json.loads", base_get),
        Row(f"list_all ({LIST_SIZE} docs), per call", listing, "dict + json.loads", base_listing),
    ]
    print_table("memory driver through the face vs a plain dict (same copies)", rows)
    return rows


if __name__ == "__main__":
    asyncio.run(main())
