"""The export, import and migrate commands of the ``asyncdb`` CLI, against pouchdb-server
(a real server: a memory provider would not outlive one command)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from asyncdb import create_database_service
from asyncdb._settings import settings_from_url
from asyncdb._urls import redact_url
from asyncdb.cli import main
from asyncdb.testing.harness import random_prefix


@pytest.fixture
def couch(couchdb_url: str) -> str:
    """The test CouchDB as a provider URL (pouchdb-server refuses unknown credentials, so
    the redaction of passwords is tested with URLs that fail before any request)."""
    return couchdb_url.replace("http://", "couchdb://", 1)


def _url(couch: str) -> str:
    return f"{couch}?prefix={random_prefix()}"


def _seed(url: str, count: int) -> None:
    async def seed() -> None:
        async with create_database_service(settings_from_url(url)) as db:
            result = await db.save_many("agents", [{"_id": f"a{i}", "i": i} for i in range(count)])
            assert result.ok
            await db.save("users", "u1", {"name": "Ada"})

    asyncio.run(seed())


def _count(url: str, collection: str) -> int:
    async def count() -> int:
        async with create_database_service(settings_from_url(url)) as db:
            return len(await db.list_all(collection))

    return asyncio.run(count())


def test_export_then_import_through_the_cli(
    couch: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source, target = _url(couch), _url(couch)
    _seed(source, 120)
    path = tmp_path / "backup.ndjson.gz"
    assert main(["export", str(path), "--url", source, "--quiet"]) == 0
    assert "exported 121 documents in 2 collections" in capsys.readouterr().out
    assert main(["import", str(path), "--url", target, "--dry-run", "--quiet"]) == 0
    assert "would import 121 documents" in capsys.readouterr().out
    assert _count(target, "agents") == 0
    assert main(["import", str(path), "--url", target]) == 0
    captured = capsys.readouterr()
    assert "imported 121 documents" in captured.out
    assert _count(target, "agents") == 120


def test_migrate_with_verify_and_a_difference(
    couch: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    source, target = _url(couch), _url(couch)
    _seed(source, 30)
    assert main(["migrate", "--from", source, "--to", target, "--verify"]) == 0
    captured = capsys.readouterr()
    assert "verified: identical" in captured.out
    assert "agents: source 30, target 30" in captured.out
    # The URLs as the CLI shows them: a password (ASYNCDB_TEST_COUCHDB_URL may carry one)
    # is masked.
    assert f"migrating {redact_url(source)} -> {redact_url(target)}" in captured.err
    assert list(tmp_path.iterdir()) == []  # the checkpoint is gone once complete

    async def tamper() -> None:
        async with create_database_service(settings_from_url(target)) as db:
            await db.save("agents", "a1", {"i": -1})

    asyncio.run(tamper())
    status = main(
        ["migrate", "--from", source, "--to", target, "--collections", "users", "--verify"]
    )
    assert status == 0  # only users compared: identical
    capsys.readouterr()
    assert main(["migrate", "--from", target, "--to", source, "--dry-run", "--verify"]) == 1
    assert "different: agents/a1" in capsys.readouterr().out


def test_a_corrupt_export_names_its_line(
    couch: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.ndjson"
    path.write_text(
        '{"collection": "agents", "id": "a", "doc": {}}\n{"collection": "agents", oops\n',
        encoding="utf-8",
    )
    target = _url(couch)
    assert main(["import", str(path), "--url", target, "--quiet"]) == 1
    assert "line 2" in capsys.readouterr().err
    assert _count(target, "agents") == 0  # the file is checked whole before any write


@pytest.mark.parametrize(
    "argv",
    [
        ["migrate", "--from", "mysql://root:pw-secret@db", "--to", "memory://"],
        ["migrate", "--from", "memory://", "--to", "couchdb://root:pw-secret@h:1?nope=1"],
        ["export", "x.ndjson", "--url", "couchdb://"],
        ["import", "x.ndjson", "--url", "dynamodb://?bogus=1"],
    ],
)
def test_bad_provider_urls_exit_2_without_secrets(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "configuration error" in err
    assert "pw-secret" not in err


def test_a_password_in_the_url_is_masked_in_the_migration_line(
    couch: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The URL that test_migrate_with_verify_and_a_difference sees when the test server
    carries credentials: the CLI masks them, and the test expects the masked form."""
    monkeypatch.chdir(tmp_path)
    url = f"couchdb://admin:s3cret-pw@127.0.0.1:1?prefix={random_prefix()}"
    shown = redact_url(url)
    assert "s3cret-pw" not in shown and "admin:***@" in shown
    status = main(["migrate", "--from", url, "--to", _url(couch)])
    assert status == 1  # nothing listens on port 1
    err = capsys.readouterr().err
    assert f"migrating {shown} -> " in err
    assert "s3cret-pw" not in err


@pytest.mark.parametrize(
    "argv",
    [
        ["export", "out.ndjson"],
        ["export", "out.ndjson", "--url", "memory://"],
        ["import", "in.ndjson", "--url", "memory://"],
        ["import", "in.ndjson", "--url", "memory://?prefix=x", "--dry-run"],
        ["migrate", "--from", "memory://", "--to", "couchdb://127.0.0.1:1"],
        ["migrate", "--from", "couchdb://127.0.0.1:1", "--to", "memory://"],
    ],
)
def test_memory_is_refused_as_a_source_or_target(
    argv: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 12 item 11: memory lives in one process; a CLI command would export an empty
    store or import into one that vanishes at exit."""
    monkeypatch.chdir(tmp_path)
    for name in ("DATABASE_PROVIDER", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "in.ndjson").write_text(
        '{"collection": "agents", "id": "a", "doc": {}}\n', encoding="utf-8"
    )
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1, lines
    assert "memory" in lines[0] and "vanishes" in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.ndjson"]  # no file written


def test_documents_too_large_for_the_target_are_listed_and_nothing_is_written(
    couch: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    big = "x" * 420_000
    lines = [{"collection": "agents", "id": f"a{i}", "doc": {"i": i}} for i in range(5)]
    lines.insert(2, {"collection": "agents", "id": "huge", "doc": {"code": big}})
    path = tmp_path / "big.ndjson"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    target = _url(couch)
    for extra in (["--dry-run"], []):
        assert main(["import", str(path), "--url", target, "--quiet", *extra]) == 1
        captured = capsys.readouterr()
        assert "cannot move agents/huge: 420," in captured.err
        assert "the target's limit is 400,000" in captured.err
        assert "1 document exceeds" in captured.err and "nothing was written" in captured.err
        assert "imported" not in captured.out
        assert _count(target, "agents") == 0
    # CouchDB's own limit (DATABASE_SIZE_LIMIT=native) holds the document: all of it moves
    monkeypatch.setenv("DATABASE_SIZE_LIMIT", "native")
    assert main(["import", str(path), "--url", target, "--quiet"]) == 0
    assert "imported 6 documents" in capsys.readouterr().out
    assert _count(target, "agents") == 6
