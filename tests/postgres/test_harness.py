"""The PostgreSQL test server's prerequisites: named when missing, not needed when the
suite is pointed at a running server."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.backends import prerequisites


def test_missing_postgresql_is_named_with_how_to_get_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(prerequisites.POSTGRES_URL_VARIABLE, raising=False)
    monkeypatch.setattr(prerequisites, "postgres_bindir", lambda: None)
    lacking = prerequisites.missing()
    assert any("postgresql" in line and "pg_config" in line for line in lacking), lacking


def test_a_running_server_named_by_the_variable_needs_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(prerequisites.POSTGRES_URL_VARIABLE, "postgresql://u:p@127.0.0.1/db")
    monkeypatch.setattr(prerequisites, "postgres_bindir", lambda: None)
    assert not any("PostgreSQL" in line for line in prerequisites.missing())


def test_the_binaries_are_found_by_pg_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    binaries = tmp_path / "bin"
    binaries.mkdir()
    (binaries / "initdb").write_text("")
    pg_config = tmp_path / "path" / "pg_config"
    pg_config.parent.mkdir()
    pg_config.write_text(f"#!/bin/sh\necho {binaries}\n")
    pg_config.chmod(0o755)
    monkeypatch.setenv("PATH", str(pg_config.parent))
    assert prerequisites.postgres_bindir() == binaries
