"""Measuring helpers shared by every benchmark: operations per second, side by side.

A benchmark compares an asyncdb path with a baseline doing the same work in the same run,
on the same machine, so only the ratio matters. Nothing here asserts a speed.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass


@dataclass
class Row:
    """One measured comparison: asyncdb against its baseline."""

    name: str
    ops_per_second: float
    baseline_name: str
    baseline_ops_per_second: float

    @property
    def ratio(self) -> float:
        """asyncdb's speed as a fraction of the baseline's (1.0 = as fast)."""
        return self.ops_per_second / self.baseline_ops_per_second


async def ops_per_second(
    operation: Callable[[int], Awaitable[object]],
    count: int,
    *,
    concurrency: int = 1,
    repeats: int = 3,
) -> float:
    """Best-of-``repeats`` rate of ``count`` calls of ``operation(i)``, ``concurrency`` at once."""
    rates = []
    for _ in range(repeats):
        started = time.perf_counter()
        if concurrency == 1:
            for index in range(count):
                await operation(index)
        else:
            semaphore = asyncio.Semaphore(concurrency)

            async def limited(index: int, semaphore: asyncio.Semaphore = semaphore) -> None:
                async with semaphore:
                    await operation(index)

            await asyncio.gather(*(limited(index) for index in range(count)))
        rates.append(count / (time.perf_counter() - started))
    return max(rates) if repeats < 3 else statistics.median(sorted(rates)[1:])


@dataclass(frozen=True)
class Pair:
    """Medians of alternating rounds: the rates, and the client CPU microseconds per call."""

    rate: float
    baseline_rate: float
    cpu_us: float
    baseline_cpu_us: float


async def paired(
    face: Callable[[int], Awaitable[object]],
    raw: Callable[[int], Awaitable[object]],
    *,
    concurrency: int,
    count: int,
    rounds: int,
    warm_up: bool = False,
) -> Pair:
    """``rounds`` alternating runs of ``count`` calls of each side, who goes first changing
    every round: on a busy machine load drifts, and taking turns exposes both sides to the
    same drift. ``warm_up`` runs each side once unmeasured first (pools that open
    connections on demand, statements prepared on first use)."""
    if warm_up:
        for operation in (face, raw):
            await ops_per_second(operation, concurrency * 2, concurrency=concurrency, repeats=1)
    rates: tuple[list[float], list[float]] = ([], [])
    cpu: tuple[list[float], list[float]] = ([], [])
    sides = [(face, 0), (raw, 1)]
    for round_number in range(rounds):
        for operation, side in sides if round_number % 2 == 0 else sides[::-1]:
            started = time.process_time()
            rates[side].append(
                await ops_per_second(operation, count, concurrency=concurrency, repeats=1)
            )
            cpu[side].append((time.process_time() - started) / count * 1e6)
    return Pair(
        statistics.median(rates[0]),
        statistics.median(rates[1]),
        statistics.median(cpu[0]),
        statistics.median(cpu[1]),
    )


def sync_ops_per_second(operation: Callable[[int], object], count: int, repeats: int = 3) -> float:
    """Best-of-``repeats`` rate of ``count`` blocking calls of ``operation(i)``."""
    rates = []
    for _ in range(repeats):
        started = time.perf_counter()
        for index in range(count):
            operation(index)
        rates.append(count / (time.perf_counter() - started))
    return max(rates)


def print_table(title: str, rows: list[Row]) -> None:
    """A plain-text table (Markdown-compatible) of the rows and their ratios."""
    print(f"\n### {title}\n")
    print("| operation | asyncdb ops/s | baseline | baseline ops/s | ratio |")
    print("|---|---:|---|---:|---:|")
    for row in rows:
        print(
            f"| {row.name} | {row.ops_per_second:,.0f} | {row.baseline_name} | "
            f"{row.baseline_ops_per_second:,.0f} | {row.ratio:.2f} |"
        )
