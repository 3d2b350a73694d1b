"""Concurrent writers on every backend's real server under injected faults; the history of
every call is then checked (see tests/faults/_history.py and docs/reliability.md).

Knobs: ``ASYNCDB_FAULT_SEED`` (reproduce a run: each writer's operations and the fault
schedule come from it), ``ASYNCDB_FAULT_OPERATIONS``, ``ASYNCDB_FAULT_SECONDS``,
``ASYNCDB_FAULT_TASKS``, ``ASYNCDB_FAULT_THREADS``. ``nox -s faults`` runs a long one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.faults._run import Knobs, run
from tests.faults._targets import BACKENDS, target

pytestmark = pytest.mark.faults


@pytest.mark.parametrize("backend", BACKENDS)
async def test_history_holds_under_faults(
    backend: str, keep_figures: Callable[[dict[str, Any]], None]
) -> None:
    knobs = Knobs.from_environment()
    with target(backend, knobs.seed) as chosen:
        report = await run(chosen, knobs)
    keep_figures({**report.figures, "seconds": round(report.seconds, 1), **_injected(report)})
    violations = report.history.violations
    assert not violations, (
        f"{backend}: {len(violations)} violations (ASYNCDB_FAULT_SEED={knobs.seed} "
        f"to reproduce)\n" + "\n".join(violations[:20])
    )
    # The run must have exercised something: a run of no operations would pass anything.
    assert report.figures["acked"] > 0
    if backend != "memory":
        assert report.episodes, f"{backend}: no fault was injected"


def _injected(report: Any) -> dict[str, Any]:
    return {"injected": report.injected}
