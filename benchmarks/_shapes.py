"""The application's three query shapes, measured the same way on every document backend:
through the index ``ensure_index`` makes for each against the same query on a collection
without it (the fallback: the backend's filter or a scan, ordered and paged in asyncdb).

10,000 documents of ~150 B: 100 users of 100 documents each, 5 namespaces (20 documents
per user and namespace), 1 ticket in 50 pending (200). Both sides are asyncdb over one
server; each runs once unmeasured first, then alternating rounds (medians).
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable, Mapping

from asyncdb._service import DatabaseService
from benchmarks._harness import Row, paired

__all__ = ["DOCS", "SHAPES", "documents", "fill", "make_indexes", "measure_shapes"]

DOCS = 10_000
USERS = 100
NAMESPACES = 5
PENDING = 50
COUNT = 5
ROUNDS = 3
#: Each shape: its name, its table row, and the index that serves it.
SHAPES: list[tuple[str, str, list[str], list[str] | None]] = [
    ("sessions", "sessions: one user's 20 newest (of 100)", ["user_id"], ["-created_at"]),
    ("tickets", "tickets: the 200 pending, by creation", ["status"], ["created_at"]),
    ("store", "store: one user's namespace (20)", ["user_id", "namespace"], None),
]


def documents() -> list[dict[str, object]]:
    return [
        {
            "_id": f"d{n:05}",
            "user_id": f"u{n % USERS}",
            "namespace": f"n{(n // USERS) % NAMESPACES}",
            "status": "pending" if n % PENDING == 0 else "done",
            "created_at": 1_700_000_000 + (n * 7919) % DOCS + 0.5,
            "title": "x" * 60,
        }
        for n in range(DOCS)
    ]


async def make_indexes(db: DatabaseService, indexed: Mapping[str, str]) -> None:
    """Each shape's index, on the collection ``indexed`` names for that shape."""
    for shape, _, fields, order_by in SHAPES:
        await db.ensure_index(indexed[shape], fields, order_by=order_by)


async def fill(db: DatabaseService, collections: set[str], batch: int = 1000) -> None:
    docs = documents()
    for collection in sorted(collections):
        for start in range(0, DOCS, batch):
            assert (await db.save_many(collection, docs[start : start + batch])).ok


async def measure_shapes(
    db: DatabaseService, indexed: Mapping[str, str], plain: str, baseline: str
) -> list[Row]:
    """One row per shape: its query on ``indexed[shape]`` vs on ``plain``."""
    users = itertools.cycle(range(USERS))
    namespaces = itertools.cycle(range(NAMESPACES))

    def sessions(collection: str) -> Callable[[int], Awaitable[object]]:
        return lambda _: db.find_page(
            collection, {"user_id": f"u{next(users)}"}, order_by=["-created_at"], limit=20
        )

    def tickets(collection: str) -> Callable[[int], Awaitable[object]]:
        return lambda _: db.find(collection, {"status": "pending"}, order_by=["created_at"])

    def store(collection: str) -> Callable[[int], Awaitable[object]]:
        return lambda _: db.find(
            collection, {"user_id": f"u{next(users)}", "namespace": f"n{next(namespaces)}"}
        )

    queries = {"sessions": sessions, "tickets": tickets, "store": store}
    rows: list[Row] = []
    for shape, name, _, _ in SHAPES:
        query = queries[shape]
        pair = await paired(
            query(indexed[shape]),
            query(plain),
            concurrency=1,
            count=COUNT,
            rounds=ROUNDS,
            warm_up=True,
        )
        rows.append(Row(name, pair.rate, baseline, pair.baseline_rate))
    return rows
