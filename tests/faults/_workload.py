"""The writers of a fault run: async tasks on the test's loop, and threads through the
blocking facade, each drawing its operations from a generator seeded by the run's seed and
its own name (so each writer's sequence of operations is reproducible).

Documents: ``counter`` (every update appends its op id to ``ops``, every patch sets
``patched.<op id>``; both add one to ``n``), ``register`` (read, then written
conditionally on the revision read), one new document per single save / create, and
documents of a writer's own that its bulk calls rewrite with the revision it last got.
Every document carries its own id as ``owner`` and the tag of the write that made it.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from asyncdb._documents import Document
from asyncdb._results import BulkResult
from asyncdb._service import DatabaseService
from asyncdb._sync import SyncDatabaseService
from tests.faults._history import History, Op, Write, classify

__all__ = ["COUNTER", "REGISTER", "REGISTER_INITIAL", "Budget", "Writer"]

COUNTER = "counter"
REGISTER = "register"
REGISTER_INITIAL = "initial"
_KINDS = ["update", "save", "create", "cas", "bulk", "patch"]
_WEIGHTS = [25, 20, 10, 20, 15, 10]


class Budget:
    """How many operations are left for all writers, and until when (monotonic)."""

    def __init__(self, operations: int, seconds: float) -> None:
        self._left = operations
        self._deadline = time.monotonic() + seconds
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            if self._left <= 0 or time.monotonic() >= self._deadline:
                return False
            self._left -= 1
            return True

    def stop(self) -> None:
        with self._lock:
            self._left = 0


@dataclass
class _Owned:
    rev: str
    previous: str | None = None


@dataclass
class Writer:
    """One writer's plan and bookkeeping; its I/O is ``run_async`` or ``run_sync``."""

    name: str
    seed: int
    history: History
    collection: str
    rng: random.Random = field(init=False)
    owned: dict[str, _Owned] = field(default_factory=dict)
    count: int = 0

    def __post_init__(self) -> None:
        self.rng = random.Random(f"{self.seed}/{self.name}")

    def _op_id(self) -> str:
        self.count += 1
        return f"{self.name}.{self.count}"

    def _next_kind(self) -> str:
        return self.rng.choices(_KINDS, _WEIGHTS)[0]

    # -- the awaited writer ----------------------------------------------------------------
    async def run_async(self, db: DatabaseService, budget: Budget) -> None:
        c = self.collection
        while budget.take():
            kind, op_id = self._next_kind(), self._op_id()
            if kind == "update":
                op = self.history.begin(op_id, "update", self.name, doc_id=COUNTER)
                try:
                    doc = await db.update(c, COUNTER, _append(op_id), default={"n": 0, "ops": []})
                except Exception as exc:
                    self.history.end(op, exc)
                else:
                    self.history.end(op, None, rev=doc["_rev"])
            elif kind == "patch":
                op = self.history.begin(op_id, "update", self.name, doc_id=COUNTER)
                try:
                    doc = await db.patch(c, COUNTER, **_patched(op_id))
                except Exception as exc:
                    self.history.end(op, exc)
                else:
                    self.history.end(op, None, rev=doc["_rev"])
            elif kind in {"save", "create"}:
                op, write, body = self._single(kind, op_id)
                call = db.save if kind == "save" else db.create
                try:
                    doc = await call(c, write.doc_id, body)
                except Exception as exc:
                    write.outcome = self.history.end(op, exc)
                else:
                    write.outcome = self.history.end(op, None, rev=doc["_rev"])
                    write.rev = doc["_rev"]
            elif kind == "cas":
                read = self.history.begin(op_id + "r", "read", self.name, doc_id=REGISTER)
                try:
                    current = await db.get(c, REGISTER)
                except Exception as exc:
                    self.history.end(read, exc)
                    continue
                op, write, body = self._cas(read, current, op_id)
                try:
                    doc = await db.save(c, REGISTER, body)
                except Exception as exc:
                    write.outcome = self.history.end(op, exc)
                else:
                    write.outcome = self.history.end(op, None, rev=doc["_rev"])
                    write.rev = doc["_rev"]
            else:
                op, writes, docs, stale = self._bulk(op_id)
                try:
                    result = await db.save_many(c, docs)
                except Exception as exc:
                    self._bulk_done(op, writes, stale, None, exc)
                else:
                    self._bulk_done(op, writes, stale, result, None)

    # -- the blocking writer (a thread through the facade) ---------------------------------
    def run_sync(self, db: SyncDatabaseService, budget: Budget) -> None:
        c = self.collection
        while budget.take():
            kind, op_id = self._next_kind(), self._op_id()
            if kind == "update":
                op = self.history.begin(op_id, "update", self.name, doc_id=COUNTER)
                try:
                    doc = db.update(c, COUNTER, _append(op_id), default={"n": 0, "ops": []})
                except Exception as exc:
                    self.history.end(op, exc)
                else:
                    self.history.end(op, None, rev=doc["_rev"])
            elif kind == "patch":
                op = self.history.begin(op_id, "update", self.name, doc_id=COUNTER)
                try:
                    doc = db.patch(c, COUNTER, **_patched(op_id))
                except Exception as exc:
                    self.history.end(op, exc)
                else:
                    self.history.end(op, None, rev=doc["_rev"])
            elif kind in {"save", "create"}:
                op, write, body = self._single(kind, op_id)
                call = db.save if kind == "save" else db.create
                try:
                    doc = call(c, write.doc_id, body)
                except Exception as exc:
                    write.outcome = self.history.end(op, exc)
                else:
                    write.outcome = self.history.end(op, None, rev=doc["_rev"])
                    write.rev = doc["_rev"]
            elif kind == "cas":
                read = self.history.begin(op_id + "r", "read", self.name, doc_id=REGISTER)
                try:
                    current = db.get(c, REGISTER)
                except Exception as exc:
                    self.history.end(read, exc)
                    continue
                op, write, body = self._cas(read, current, op_id)
                try:
                    doc = db.save(c, REGISTER, body)
                except Exception as exc:
                    write.outcome = self.history.end(op, exc)
                else:
                    write.outcome = self.history.end(op, None, rev=doc["_rev"])
                    write.rev = doc["_rev"]
            else:
                op, writes, docs, stale = self._bulk(op_id)
                try:
                    result = db.save_many(c, docs)
                except Exception as exc:
                    self._bulk_done(op, writes, stale, None, exc)
                else:
                    self._bulk_done(op, writes, stale, result, None)

    # -- planning and bookkeeping, shared by both ------------------------------------------
    def _single(self, kind: str, op_id: str) -> tuple[Op, Write, dict[str, Any]]:
        doc_id = f"{kind[0]}.{op_id}"
        op = self.history.begin(op_id, kind, self.name, doc_id=doc_id)
        write = self.history.write(op, doc_id, op_id)
        return op, write, _body(doc_id, op_id, self.name)

    def _cas(self, read: Op, current: Document, op_id: str) -> tuple[Op, Write, dict[str, Any]]:
        self.history.end(read, None, value=current.get("tag"), rev=current["_rev"])
        base = str(current["_rev"])
        op = self.history.begin(op_id, "cas", self.name, doc_id=REGISTER, base_rev=base)
        write = self.history.write(op, REGISTER, op_id, conditional_on=base)
        return op, write, {**_body(REGISTER, op_id, self.name), "_rev": base}

    def _bulk(self, op_id: str) -> tuple[Op, list[Write], list[dict[str, Any]], str | None]:
        """4 to 16 documents: new ones, owned ones rewritten on their current revision, and
        at most one on a revision it has already replaced (which must be refused)."""
        op = self.history.begin(op_id, "bulk", self.name)
        writes: list[Write] = []
        docs: list[dict[str, Any]] = []
        stale: str | None = None
        chosen: set[str] = set()
        for index in range(self.rng.randint(4, 16)):
            tag = f"{op_id}/{index}"
            candidates = sorted(set(self.owned) - chosen)
            roll = self.rng.random()
            rev: str | None = None
            if candidates and roll < 0.15 and stale is None:
                doc_id = self.rng.choice(candidates)
                rev = self.owned[doc_id].previous
                if rev is None:
                    doc_id, rev = f"b.{op_id}-{index}", None
                else:
                    stale = doc_id
            elif candidates and roll < 0.6:
                doc_id = self.rng.choice(candidates)
                rev = self.owned[doc_id].rev
            else:
                doc_id = f"b.{op_id}-{index}"
            chosen.add(doc_id)
            body = _body(doc_id, tag, self.name)
            if rev is not None:
                body["_rev"] = rev
            docs.append({"_id": doc_id, **body})
            writes.append(self.history.write(op, doc_id, tag, conditional_on=rev))
        return op, writes, docs, stale

    def _bulk_done(
        self,
        op: Op,
        writes: list[Write],
        stale: str | None,
        result: BulkResult | None,
        exc: BaseException | None,
    ) -> None:
        self.history.end(op, exc)
        if result is not None and len(result) != len(writes):
            self.history.violate(f"bulk {op.op_id}: {len(result)} outcomes for {len(writes)} docs")
        for index, write in enumerate(writes):
            if result is None or index >= len(result):
                write.outcome = op.outcome if result is None else "unknown"
            else:
                outcome = result[index]
                if outcome.id != write.doc_id:
                    self.history.violate(
                        f"bulk {op.op_id}: outcome {index} is for {outcome.id}, not {write.doc_id}"
                    )
                write.outcome = classify(outcome.error)
                write.rev = outcome.rev
                if outcome.error is not None and write.outcome == "foreign":
                    self.history.violate(
                        f"bulk {op.op_id}: {write.doc_id} failed with "
                        f"{type(outcome.error).__name__}: {outcome.error}"
                    )
            self._settle(op, write, stale)

    def _settle(self, op: Op, write: Write, stale: str | None) -> None:
        doc_id = write.doc_id
        if doc_id == stale:
            if write.outcome == "acked":
                self.history.violate(
                    f"bulk {op.op_id}: {doc_id} written on revision {write.conditional_on}, "
                    f"which this writer had already replaced\n" + self.history.excerpt(doc_id)
                )
            if write.outcome != "failed":
                self.owned.pop(doc_id, None)
            return
        if write.outcome == "acked" and write.rev is not None:
            self.owned[doc_id] = _Owned(write.rev, write.conditional_on)
        else:
            # Its revision is unknown now: never write it again, so that its final state
            # stays checkable (the last acknowledged write, or this unknown one).
            self.owned.pop(doc_id, None)


def _body(doc_id: str, tag: str, writer: str) -> dict[str, Any]:
    return {"owner": doc_id, "tag": tag, "writer": writer}


def _append(op_id: str) -> Callable[[Document], Document]:
    def append(doc: Document) -> Document:
        doc["n"] = int(doc.get("n", 0)) + 1
        doc["ops"] = [*doc.get("ops", []), op_id]
        return doc

    return append


def _patched(op_id: str) -> dict[str, Any]:
    """A patch of the counter: one more, and its op id as a key of ``patched`` (``\\.``
    is a literal dot in a patch path)."""
    return {"set": {"patched." + op_id.replace(".", "\\."): True}, "increment": {"n": 1}}
