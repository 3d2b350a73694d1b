"""Developer tasks. `nox` runs lint, typecheck and tests (what CI runs); `nox -s bench`
runs the benchmarks."""

from __future__ import annotations

import nox

nox.options.sessions = ["lint", "typecheck", "tests"]
nox.options.reuse_venv = "yes"

PYTHON = "3.11"


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff: lint rules and formatting."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy --strict over the package, with every provider's client library installed."""
    session.install("-e", ".[all,server,test]", "mypy>=1.11")
    session.run("mypy")


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """The whole test suite: unit tests and the conformance suite on every backend's real
    server (started by the test harness; see docs/testing.md)."""
    session.install("-e", ".[all,server,test]")
    session.run("pytest", *session.posargs)


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Benchmarks: asyncdb against raw clients and plain baselines, side by side."""
    session.install("-e", ".[all,server,test]")
    session.run("python", "-m", "benchmarks.run", *session.posargs)
