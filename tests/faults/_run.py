"""One fault run on one backend: set up, writers and faults at once, then the checks."""

from __future__ import annotations

import asyncio
import os
import random
import secrets
import statistics
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from asyncdb._documents import Document
from asyncdb._service import DatabaseService
from asyncdb._sync import SyncDatabaseService
from asyncdb.errors import BackendUnavailableError, NotFoundError
from tests.faults._faults import RECOVERY_LIMIT, Episode, inject_faults
from tests.faults._history import MAX_CALL_SECONDS, History
from tests.faults._targets import Target
from tests.faults._workload import COUNTER, REGISTER, REGISTER_INITIAL, Budget, Writer

__all__ = ["Knobs", "Report", "run"]

PROBE = "probe"
REGISTER_BODY = {"owner": REGISTER, "tag": REGISTER_INITIAL}


@dataclass(frozen=True)
class Knobs:
    """How long and how wide a run is: short by default (CI), longer under
    ``nox -s faults``; each can be set through its variable."""

    seed: int
    operations: int
    seconds: float
    tasks: int
    threads: int

    @classmethod
    def from_environment(cls) -> Knobs:
        env = os.environ
        seed = env.get("ASYNCDB_FAULT_SEED")
        return cls(
            seed=int(seed) if seed else random.SystemRandom().randrange(2**32),
            operations=int(env.get("ASYNCDB_FAULT_OPERATIONS", "2000")),
            seconds=float(env.get("ASYNCDB_FAULT_SECONDS", "15")),
            tasks=int(env.get("ASYNCDB_FAULT_TASKS", "16")),
            threads=int(env.get("ASYNCDB_FAULT_THREADS", "4")),
        )


@dataclass
class Report:
    backend: str
    seed: int
    history: History
    episodes: list[Episode] = field(default_factory=list)
    injected: dict[str, int] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


async def run(target: Target, knobs: Knobs) -> Report:
    seed = knobs.seed
    collection = f"faults_{secrets.token_hex(4)}"
    history = History()
    report = Report(target.name, seed, history)
    db = target.service()
    # The facade refuses to be built or closed on a thread that runs an event loop.
    facade = await asyncio.to_thread(SyncDatabaseService, target.service())
    started = time.monotonic()
    try:
        await _setup(db, collection)
        budget = Budget(knobs.operations, knobs.seconds)
        writers = [Writer(f"a{i}", seed, history, collection) for i in range(knobs.tasks)]
        threaded = [Writer(f"t{i}", seed, history, collection) for i in range(knobs.threads)]
        threads = [
            threading.Thread(target=w.run_sync, args=(facade, budget), daemon=True)
            for w in threaded
        ]
        done = asyncio.Event()

        async def probe_async() -> object:
            return await db.get(collection, PROBE)

        async def probe_facade() -> object:
            return await asyncio.to_thread(facade.get, collection, PROBE)

        schedule = random.Random(f"{seed}/{target.name}/faults")
        probes = [probe_async, probe_facade]
        target.history, target.collection = history, collection
        faults = asyncio.create_task(inject_faults(target, schedule, done, probes))
        for thread in threads:
            thread.start()
        try:
            bound = knobs.seconds + 2 * MAX_CALL_SECONDS
            try:
                # Bounded, so that a call that hangs fails the run instead of stalling CI.
                async with asyncio.timeout(bound):
                    await asyncio.gather(*(w.run_async(db, budget) for w in writers))
            except TimeoutError:
                history.violate(f"the async writers had not finished after {bound:.0f}s")
            await asyncio.to_thread(_join, threads, bound)
        finally:
            budget.stop()
            done.set()
            report.episodes = await faults
        if any(thread.is_alive() for thread in threads):
            history.violate("a writer thread did not finish: a facade call hung")
        for episode in report.episodes:
            if episode.recovery is None:
                history.violate(
                    f"the service did not answer within {RECOVERY_LIMIT:.0f}s after {episode.kind}"
                )
        await _check(db, collection, history)
        report.figures = _figures(report, target)
    finally:
        report.seconds = time.monotonic() - started
        report.injected = dict(
            target.proxy.injected if target.proxy is not None else target.injected
        )
        try:
            await db.drop_collection(collection)
        finally:
            await db.aclose()
            await asyncio.to_thread(facade.close)
    return report


async def _setup(db: DatabaseService, collection: str) -> None:
    """Written while the proxy is calm: the collection (a DynamoDB table) exists, the
    register holds its initial value, the probes have a document to read. A server's
    first answers can be slow (the emulator's JIT warms up): these unconditional saves are
    repeated until they succeed."""
    deadline = time.monotonic() + 60
    for doc_id, body in ((PROBE, {"owner": PROBE}), (REGISTER, REGISTER_BODY)):
        while True:
            try:
                await db.save(collection, doc_id, body)
                break
            except BackendUnavailableError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.5)


def _join(threads: list[threading.Thread], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    for thread in threads:
        thread.join(timeout=max(0.0, deadline - time.monotonic()))


async def _check(db: DatabaseService, collection: str, history: History) -> None:
    """Read the final state through the same service (faults are over) and check it."""
    counter = await _get(db, collection, COUNTER)
    register = await _get(db, collection, REGISTER)
    ids = sorted(set(history.writes) - {REGISTER})
    stored: dict[str, Document | None] = {}
    for start in range(0, len(ids), 100):
        stored.update(await db.get_many(collection, ids[start : start + 100]))
    history.check_calls()
    history.figures = {
        **history.check_counter(counter),
        **_add(history.check_documents(stored, {REGISTER})),
    }
    history.check_register(REGISTER, REGISTER_INITIAL, register)


def _add(found: dict[str, int]) -> dict[str, int]:
    return {f"documents_{key}": value for key, value in found.items()}


async def _get(db: DatabaseService, collection: str, doc_id: str) -> Document | None:
    try:
        return await db.get(collection, doc_id)
    except NotFoundError:
        return None


def _figures(report: Report, target: Target) -> dict[str, Any]:
    history = report.history
    counts = history.counts()
    found = history.figures
    recoveries = [e.recovery for e in report.episodes if e.recovery is not None]
    return {
        "backend": target.name,
        "seed": report.seed,
        "operations": len(history.ops),
        "acked": counts["acked"],
        "failed": counts["failed"],
        "unknown": counts["unknown"],
        "unavailable": counts["unavailable"],
        "lost": found.get("lost", 0) + found.get("documents_lost", 0),
        "doubled": found.get("doubled", 0),
        "misreported": found.get("misreported", 0) + found.get("documents_misreported", 0),
        "violations": len(history.violations),
        "faults": sorted({e.kind for e in report.episodes}),
        "episodes": len(report.episodes),
        "recovery_max_s": max(recoveries, default=None),
        "recovery_median_s": statistics.median(recoveries) if recoveries else None,
    }
