"""Developer tasks. `nox` checks the prerequisites of the test servers, then runs lint,
typecheck and tests (what CI runs); `nox -s faults` runs a long fault-injection run;
`nox -s bench` runs the benchmarks."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from types import ModuleType

import nox

nox.options.sessions = ["prerequisites", "lint", "typecheck", "tests"]
nox.options.reuse_venv = "yes"

PYTHON = "3.11"
#: ``nox -s faults``: a long run (each can still be overridden from the environment).
LONG_FAULT_RUN = {
    "ASYNCDB_FAULT_OPERATIONS": "20000",
    "ASYNCDB_FAULT_SECONDS": "90",
    "ASYNCDB_FAULT_TASKS": "30",
    "ASYNCDB_FAULT_THREADS": "8",
}


def _prerequisites() -> ModuleType:
    """tests/backends/prerequisites.py, loaded by path: it needs only the standard library,
    so it runs before any virtualenv exists."""
    path = Path(__file__).parent / "tests" / "backends" / "prerequisites.py"
    spec = importlib.util.spec_from_file_location("asyncdb_test_prerequisites", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _require_test_servers(session: nox.Session) -> None:
    line = _prerequisites().summary()
    if line is not None:
        session.error(line)


@nox.session(python=False)
def prerequisites(session: nox.Session) -> None:
    """Node.js + npm, Java 17 and the Firestore emulator: one line naming what is missing
    (runs first and creates no virtualenv)."""
    _require_test_servers(session)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff: lint rules and formatting."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy --strict over the package, with every provider's client library installed."""
    # asyncpg ships no type information of its own: its stubs are a separate package.
    session.install("-e", ".[all,server,test]", "mypy>=1.11", "asyncpg-stubs>=0.29")
    session.run("mypy")


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """The whole test suite: unit tests, the conformance suite on every backend's real
    server (started by the test harness; see docs/testing.md) and a short fault run."""
    _require_test_servers(session)
    session.install("-e", ".[all,server,test]")
    session.run("pytest", *session.posargs)


@nox.session(python=PYTHON)
def faults(session: nox.Session) -> None:
    """A long fault-injection run on every backend (docs/reliability.md)."""
    _require_test_servers(session)
    session.install("-e", ".[all,server,test]")
    knobs = {name: os.environ.get(name, value) for name, value in LONG_FAULT_RUN.items()}
    session.run("pytest", "tests/faults", *session.posargs, env=knobs)


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Benchmarks: asyncdb against raw clients and plain baselines, side by side."""
    session.install("-e", ".[all,server,test]")
    session.run("python", "-m", "benchmarks.run", *session.posargs)
