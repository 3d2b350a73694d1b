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
