"""The memory driver through the face against a plain dict doing the same copies, and
what ``import asyncdb`` costs.

Two baselines, each a dict that deep-copies in and out (the least work that still keeps
callers from aliasing stored data, as asyncdb promises): ``copy.deepcopy`` in and out
(the baseline of issue 16), and JSON text (``json.dumps`` in, ``json.loads`` out; the
stricter one: the stdlib's fastest deep copy of JSON data). The difference is the face's cost:
validation, conversion, size measure, revisions, loop binding. Each pair is measured in
alternating rounds, and the ratio reported is the median of the rounds' ratios, so that
the load of a shared machine falls on both sides alike.

Import cost: ``python -X importtime`` in fresh interpreters, the median of several, for
this checkout and for every source tree named in ``BENCH_IMPORT_TREES`` (``:``-separated,
e.g. a ``git worktree`` of an older commit), side by side.

Run: ``python -m benchmarks.bench_memory``.
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from asyncdb._service import DatabaseService
from asyncdb.drivers.memory import MemoryDriver
from benchmarks._harness import Row, ops_per_second, print_table

COUNT = 5_000
LIST_SIZE = 1_000
AT_ONCE = 32
ROUNDS = 5
IMPORT_RUNS = 11


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


class DeepCopyBaseline:
    """A plain dict of ``copy.deepcopy`` copies."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, Any]] = {}

    async def save(self, doc_id: str, doc: dict[str, Any]) -> dict[str, Any]:
        self.rows[doc_id] = copy.deepcopy(doc)
        return {"_id": doc_id, **doc}

    async def get(self, doc_id: str) -> dict[str, Any]:
        return {"_id": doc_id, **copy.deepcopy(self.rows[doc_id])}


Operation = Callable[[int], Awaitable[object]]


async def side_by_side(
    name: str, ours: Operation, baseline_name: str, theirs: Operation, count: int, at_once: int
) -> Row:
    """Alternating rounds of both; median rates, and the median of the rounds' ratios
    (returned as the baseline rate that gives that ratio)."""
    rates: list[float] = []
    baseline_rates: list[float] = []
    ratios: list[float] = []
    for round_number in range(ROUNDS):
        pair: list[float] = []
        # Alternate which side goes first: a burst of load then hits each side alike.
        for operation in (ours, theirs) if round_number % 2 == 0 else (theirs, ours):
            pair.append(await ops_per_second(operation, count, concurrency=at_once, repeats=1))
        rate, baseline_rate = pair if round_number % 2 == 0 else pair[::-1]
        rates.append(rate)
        baseline_rates.append(baseline_rate)
        ratios.append(rate / baseline_rate)
    rate = statistics.median(rates)
    return Row(name, rate, baseline_name, rate / statistics.median(ratios))


async def main() -> list[Row]:
    docs = [one_kb_document(index) for index in range(COUNT)]
    size = len(json.dumps(docs[0]))
    db = DatabaseService(MemoryDriver())
    baseline = DictBaseline()

    deep = DeepCopyBaseline()
    rows = []
    for at_once in (1, AT_ONCE):
        label = "one at a time" if at_once == 1 else f"{at_once} at once"
        for baseline_name, base in (("dict + copy.deepcopy", deep), ("dict + JSON text", baseline)):
            rows.append(
                await side_by_side(
                    f"save ({size} B doc, {label})",
                    lambda i: db.save("agents", f"id{i}", docs[i]),
                    baseline_name,
                    lambda i, base=base: base.save(f"id{i}", docs[i]),  # type: ignore[misc]
                    COUNT,
                    at_once,
                )
            )
        for baseline_name, base in (("dict + copy.deepcopy", deep), ("dict + JSON text", baseline)):
            rows.append(
                await side_by_side(
                    f"get ({size} B doc, {label})",
                    lambda i: db.get("agents", f"id{i}"),
                    baseline_name,
                    lambda i, base=base: base.get(f"id{i}"),  # type: ignore[misc]
                    COUNT,
                    at_once,
                )
            )

    small = DatabaseService(MemoryDriver())
    small_baseline = DictBaseline()
    for index in range(LIST_SIZE):
        await small.save("agents", f"id{index:04d}", docs[index])
        await small_baseline.save(f"id{index:04d}", docs[index])
    rows.append(
        await side_by_side(
            f"list_all ({LIST_SIZE} docs), per call",
            lambda _: small.list_all("agents"),
            "dict + JSON text",
            lambda _: small_baseline.list_all(),
            20,
            1,
        )
    )
    print_table("memory driver through the face vs a plain dict (same copies)", rows)
    await print_cpu_ratios(docs)
    print_import_cost()
    return rows


async def _cpu_rate(operation: Operation, count: int) -> float:
    started = time.process_time()
    for index in range(count):
        await operation(index)
    return count / (time.process_time() - started)


async def print_cpu_ratios(docs: list[dict[str, Any]], rounds: int = 15) -> None:
    """The same comparisons, one at a time, by this process's CPU time (steadier than wall
    time on a shared machine): the median over ``rounds`` alternating rounds."""
    db = DatabaseService(MemoryDriver())
    baselines = {"dict + copy.deepcopy": DeepCopyBaseline(), "dict + JSON text": DictBaseline()}
    count = 2_000
    ratios: dict[str, list[float]] = {}
    for _ in range(rounds):
        for name, base in baselines.items():
            ours = await _cpu_rate(lambda i: db.save("agents", f"id{i}", docs[i]), count)
            theirs = await _cpu_rate(lambda i, base=base: base.save(f"id{i}", docs[i]), count)  # type: ignore[misc]
            ratios.setdefault(f"save vs {name}", []).append(ours / theirs)
            ours = await _cpu_rate(lambda i: db.get("agents", f"id{i}"), count)
            theirs = await _cpu_rate(lambda i, base=base: base.get(f"id{i}"), count)  # type: ignore[misc]
            ratios.setdefault(f"get vs {name}", []).append(ours / theirs)
    print("\n### by CPU time, one at a time (median ratio of alternating rounds)\n")
    print("| comparison | ratio |\n|---|---:|")
    for name, values in ratios.items():
        print(f"| {name} | {statistics.median(values):.2f} |")


#: What is imported, in a fresh interpreter each time.
IMPORTS = (
    "import asyncdb",
    "from asyncdb import DatabaseService",
    "from asyncdb import Settings",
)


def import_ms(tree: Path, statement: str) -> float:
    """Median over ``IMPORT_RUNS`` fresh interpreters of the cumulative ``-X importtime`` of
    ``statement``'s top-level imports, in milliseconds, with ``tree`` first on the path."""
    environment = {**os.environ, "PYTHONPATH": str(tree)}
    samples = []
    for _ in range(IMPORT_RUNS):
        done = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", statement],
            capture_output=True,
            text=True,
            check=True,
            env=environment,
            cwd=tree,
        )
        total = sum(_top_level_microseconds(line) for line in done.stderr.splitlines())
        samples.append(total / 1000)
    return statistics.median(samples)


def _top_level_microseconds(line: str) -> int:
    """The cumulative time of an ``-X importtime`` line if it is a top-level import (its
    name indented by exactly one space), else 0."""
    parts = line.split("|")
    if len(parts) != 3 or not parts[1].strip().isdigit():
        return 0
    name = parts[2]
    return int(parts[1]) if name.startswith(" ") and not name.startswith("  ") else 0


def print_import_cost() -> None:
    here = Path(__file__).resolve().parent.parent
    trees = [here] + [Path(p) for p in os.environ.get("BENCH_IMPORT_TREES", "").split(":") if p]
    print("\n### import cost (median of fresh interpreters, -X importtime, ms)\n")
    print("| statement | " + " | ".join(str(tree) for tree in trees) + " |")
    print("|---|" + "---:|" * len(trees))
    baseline = import_ms(here, "pass")
    for statement in IMPORTS:
        cells = [f"{import_ms(tree, statement) - baseline:.1f}" for tree in trees]
        print(f"| `{statement}` | " + " | ".join(cells) + " |")
    print(f"\n(interpreter start-up imports, subtracted above: {baseline:.1f} ms)")


if __name__ == "__main__":
    asyncio.run(main())
