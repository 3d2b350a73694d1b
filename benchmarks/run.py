"""Run every benchmark (``nox -s bench`` or ``python -m benchmarks.run [names...]``).

Each ``benchmarks/bench_<name>.py`` module has an async ``main()`` that prints its tables.
Benchmarks of networked backends start their server through the test harness; one whose
server cannot start is reported and the others still run.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import pkgutil
import sys
import traceback
from pathlib import Path


def available() -> list[str]:
    folder = Path(__file__).parent
    return sorted(
        info.name.removeprefix("bench_")
        for info in pkgutil.iter_modules([str(folder)])
        if info.name.startswith("bench_")
    )


def run(names: list[str]) -> int:
    failures = 0
    for name in names:
        print(f"\n## {name}")
        try:
            module = importlib.import_module(f"benchmarks.bench_{name}")
            asyncio.run(module.main())
        except Exception:  # noqa: BLE001 - report and go on with the other benchmarks
            failures += 1
            traceback.print_exc()
    return failures


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    chosen = sys.argv[1:] or available()
    sys.exit(1 if run(chosen) else 0)
