"""Where the harness finds the Firestore emulator, and the one line naming what is missing."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.backends import prerequisites


def _fake_sdk(root: Path) -> Path:
    """A Cloud SDK layout: bin/gcloud and the emulator component's jar."""
    (root / "bin").mkdir(parents=True)
    gcloud = root / "bin" / "gcloud"
    gcloud.write_text("#!/bin/sh\n")
    gcloud.chmod(0o755)
    jar = root / "platform" / "cloud-firestore-emulator" / "cloud-firestore-emulator.jar"
    jar.parent.mkdir(parents=True)
    jar.write_bytes(b"PK")
    return jar


def test_the_variable_names_the_jar(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    jar = tmp_path / "emulator.jar"
    jar.write_bytes(b"PK")
    monkeypatch.setenv(prerequisites.EMULATOR_JAR_VARIABLE, str(jar))
    assert prerequisites.find_emulator_jar() == jar


def test_a_variable_naming_no_file_is_an_error_not_a_fallback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(prerequisites.EMULATOR_JAR_VARIABLE, str(tmp_path / "nope.jar"))
    with pytest.raises(RuntimeError, match=r"ASYNCDB_FIRESTORE_EMULATOR_JAR=.*is not a file"):
        prerequisites.find_emulator_jar()


def test_gclouds_component_is_found_through_a_symlink(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    jar = _fake_sdk(tmp_path / "google-cloud-sdk")
    path_dir = tmp_path / "usr-bin"
    path_dir.mkdir()
    (path_dir / "gcloud").symlink_to(tmp_path / "google-cloud-sdk" / "bin" / "gcloud")
    monkeypatch.delenv(prerequisites.EMULATOR_JAR_VARIABLE, raising=False)
    monkeypatch.setenv("PATH", str(path_dir))
    assert prerequisites.find_emulator_jar() == jar


def test_one_line_names_everything_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no node, npm, java, gcloud or dpkg
    for name in (
        prerequisites.EMULATOR_JAR_VARIABLE,
        prerequisites.EMULATOR_HOST_VARIABLE,
        "ASYNCDB_TEST_COUCHDB_URL",
        "ASYNCDB_TEST_DYNAMODB_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    line = prerequisites.summary()
    assert line is not None and "\n" not in line
    for needed in ("node", "npm", "Java 17", "cloud-firestore-emulator", "EMULATOR_HOST"):
        assert needed in line


def test_running_servers_named_by_variables_need_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("ASYNCDB_TEST_COUCHDB_URL", "http://127.0.0.1:5984")
    monkeypatch.setenv("ASYNCDB_TEST_DYNAMODB_URL", "http://127.0.0.1:8000")
    monkeypatch.setenv("ASYNCDB_TEST_POSTGRES_URL", "postgresql://u:p@127.0.0.1:5432/db")
    monkeypatch.setenv(prerequisites.EMULATOR_HOST_VARIABLE, "127.0.0.1:8080")
    assert prerequisites.summary() is None
