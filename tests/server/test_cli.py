"""The asyncdb command line: parsing, serve's refusals (in-process, no server), and the
CLI without the server extra (a subprocess in which FastAPI cannot be imported)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from asyncdb.cli import SUBCOMMAND_MODULES, build_parser, main


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in (
        "ASYNCDB_API_TOKEN",
        "ASYNCDB_HOST",
        "ASYNCDB_PORT",
        "DATABASE_PROVIDER",
        "DATABASE_URL",
        "SQLITE_PATH",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # serve's default database file goes to the working directory


def test_without_a_command_it_prints_help_and_fails(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "serve" in capsys.readouterr().err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.startswith("asyncdb ")


def test_serve_options_parse() -> None:
    args = build_parser().parse_args(["serve", "--host", "::1", "--port", "0"])
    assert (args.command, args.host, args.port) == ("serve", "::1", 0)
    assert "asyncdb.server._command" in SUBCOMMAND_MODULES


def test_serve_help_names_both_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "./asyncdb.sqlite3" in text and "DATABASE_PROVIDER=memory" in text


def test_serve_refuses_a_public_address_without_a_token(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["serve", "--host", "0.0.0.0"]) == 2
    error = capsys.readouterr().err
    assert "refusing to serve on '0.0.0.0' without a bearer token" in error
    assert "ASYNCDB_API_TOKEN" in error


def test_serve_refuses_an_unknown_provider(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_PROVIDER", "memroy")
    assert main(["serve"]) == 2
    assert "DATABASE_PROVIDER='memroy' is not a known provider" in capsys.readouterr().err


def test_serve_refuses_a_malformed_setting(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASYNCDB_PORT", "eighty")
    assert main(["serve"]) == 2
    error = capsys.readouterr().err
    assert "asyncdb serve: ASYNCDB_PORT: Input should be a valid integer" in error
    assert "eighty" not in error


_WITHOUT_THE_SERVER_EXTRA = (
    "import sys\n"
    "sys.modules['fastapi'] = None  # as if the server extra were not installed\n"
    "sys.modules['uvicorn'] = None\n"
    "from asyncdb.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


def _cli_without_fastapi(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return _cli(_WITHOUT_THE_SERVER_EXTRA, *args, cwd=cwd)


def _cli(script: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ASYNCDB_", "DATABASE_", "SQLITE_"))
    }
    return subprocess.run(
        [sys.executable, "-c", script, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )


@pytest.mark.parametrize(
    "args", [["--help"], ["export", "--help"], ["import", "--help"], ["migrate", "--help"]]
)
def test_the_cli_works_without_the_server_extra(args: list[str]) -> None:
    result = _cli_without_fastapi(*args)
    assert result.returncode == 0, result.stderr
    assert "usage: asyncdb" in result.stdout
    assert "ModuleNotFoundError" not in result.stderr and "fastapi" not in result.stderr


def test_serve_without_the_server_extra_names_the_extra_in_one_line() -> None:
    result = _cli_without_fastapi("serve")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "asyncdb serve needs the server extra: pip install 'asyncdb-documents[server]' "
        "(missing: uvicorn)"
    ]


_WITHOUT_AIOSQLITE = (
    "import sys\n"
    "sys.modules['aiosqlite'] = None  # as if the sqlite extra were not installed\n"
    "from asyncdb.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


def test_serve_without_configuration_or_aiosqlite_names_the_extra_and_memory(
    tmp_path: Path,
) -> None:
    result = _cli(_WITHOUT_AIOSQLITE, "serve", "--port", "0", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert "pip install 'asyncdb-documents[sqlite]'" in lines[0]
    assert "DATABASE_PROVIDER=memory" in lines[0]
    assert not (tmp_path / "asyncdb.sqlite3").exists()


def test_serve_options_for_schemas_and_cors() -> None:
    args = build_parser().parse_args(
        [
            "serve",
            "--schemas",
            "asyncdb.schemas:SCHEMA_MODELS",
            "--cors-origin",
            "http://a.test",
            "--cors-origin",
            "http://b.test",
        ]
    )
    assert args.schemas == "asyncdb.schemas:SCHEMA_MODELS"
    assert args.cors_origins == ["http://a.test", "http://b.test"]


def test_serve_refuses_a_schema_set_that_does_not_exist(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["serve", "--schemas", "asyncdb.nowhere:X"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("asyncdb serve: schemas: ")
    assert "cannot import 'asyncdb.nowhere'" in error


def test_serve_refuses_the_placeholder_token(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASYNCDB_API_TOKEN", "change-me-to-a-long-random-token")
    assert main(["serve", "--host", "0.0.0.0"]) == 2
    error = capsys.readouterr().err
    assert "documented placeholder" in error and "change-me" not in error
