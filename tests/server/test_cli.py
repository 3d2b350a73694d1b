"""The asyncdb command line: parsing, and serve's refusals (in-process, no server)."""

from __future__ import annotations

import pytest

from asyncdb.cli import SUBCOMMAND_MODULES, build_parser, main


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ASYNCDB_API_TOKEN", "ASYNCDB_HOST", "ASYNCDB_PORT", "DATABASE_PROVIDER"):
        monkeypatch.delenv(name, raising=False)


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
    assert "asyncdb.server.command" in SUBCOMMAND_MODULES


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
