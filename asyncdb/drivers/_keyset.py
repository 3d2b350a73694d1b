"""Keyset pagination in SQL: the rows that sort strictly after a position, for the SQLite
and PostgreSQL drivers' ``find_page``.

An order is a list of sort expressions, each ascending or descending. A run of
consecutive expressions in one direction compares as one row value, ``(a, b) > (?, ?)``,
which is exactly lexicographic order over the run; runs of different directions chain:
``run1 > v1 OR (run1 = v1 AND <the rest>)``. Each dialect spells a row value its own way
(PostgreSQL ``ROW(a, b)``, SQLite ``(a, b)``) and adds its own seek clause in front, the
part its planner can start an index scan at.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

__all__ = ["Run", "runs_of", "strictly_after"]


@dataclass(slots=True)
class Run:
    """Consecutive sort expressions in one direction, and the bound parameters (their
    placeholders) of the position's values for them."""

    descending: bool
    columns: list[str] = field(default_factory=list)
    marks: list[str] = field(default_factory=list)


def runs_of(keys: Iterable[tuple[str, str, bool]]) -> list[Run]:
    """``(expression, placeholder, descending)`` per sort key, grouped into runs."""
    runs: list[Run] = []
    for column, mark, descending in keys:
        if not runs or runs[-1].descending != descending:
            runs.append(Run(descending))
        runs[-1].columns.append(column)
        runs[-1].marks.append(mark)
    return runs


def strictly_after(runs: Sequence[Run], row: Callable[[Sequence[str]], str]) -> str:
    """The condition that a row sorts strictly after the position, with ``row`` spelling a
    row value of several parts (one part is left as it is)."""
    clause = ""
    for run in reversed(runs):
        left, right = row(run.columns), row(run.marks)
        strict = f"{left} {'<' if run.descending else '>'} {right}"
        clause = strict if not clause else f"({strict} OR ({left} = {right} AND {clause}))"
    return clause
