"""The fault suite's figures: each run's are kept, written to
``.cache/faults/<backend>.json`` (or ``$ASYNCDB_FAULT_REPORT_DIR``) and summed up at the
end of the session, with the seed to reproduce it."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.backends._process import REPO_ROOT

_FIGURES: list[dict[str, Any]] = []
_COLUMNS = [
    "operations",
    "acked",
    "failed",
    "unknown",
    "unavailable",
    "lost",
    "doubled",
    "misreported",
]


@pytest.fixture
def keep_figures() -> Any:
    def keep(figures: dict[str, Any]) -> None:
        _FIGURES.append(figures)
        folder = Path(os.environ.get("ASYNCDB_FAULT_REPORT_DIR", REPO_ROOT / ".cache" / "faults"))
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{figures['backend']}.json"
        path.write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")

    return keep


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _FIGURES:
        return
    terminalreporter.section("fault suite")
    header = ["backend", *_COLUMNS, "recovery max s", "faults", "seed"]
    terminalreporter.write_line(" | ".join(header))
    for figures in _FIGURES:
        row = [
            str(figures["backend"]),
            *(str(figures.get(column, "")) for column in _COLUMNS),
            str(figures.get("recovery_max_s")),
            ",".join(figures.get("faults", [])) or "-",
            str(figures["seed"]),
        ]
        terminalreporter.write_line(" | ".join(row))
