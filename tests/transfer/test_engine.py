"""Export, import, migrate and verify between memory services: streaming, resumable,
idempotent, and loud about bad input."""

from __future__ import annotations

import gzip
import io
import itertools
import json
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from asyncdb import DatabaseService
from asyncdb.drivers.base import WriteOutcome
from asyncdb.drivers.memory import MemoryDriver
from asyncdb.errors import BackendUnavailableError, InvalidExportError
from asyncdb.middleware import DriverWrapper
from asyncdb.testing import CallRecorder, assert_same_json
from asyncdb.testing.strategies import document_ids, documents
from asyncdb.transfer import (
    Checkpoint,
    Progress,
    content_hash,
    export_collections,
    import_file,
    migrate,
    verify,
)


def awkward(index: int) -> dict[str, Any]:
    return {
        "_id": f"id {index}/x".replace("/", "%2F"),
        "n": index,
        "f": index + 0.5,
        "whole_float": 1.0,
        "flag": index % 2 == 0,
        "none": None,
        "text": "ünïcödé 🎉 " * (index % 3),
        "nested": [[1, [2.0]], {"a.b": {"$c": []}}],
        "empty": {},
    }


async def _fill(service: DatabaseService, counts: dict[str, int]) -> None:
    for collection, count in counts.items():
        docs = [awkward(i) for i in range(count)]
        assert (await service.save_many(collection, docs)).ok


async def _snapshot(service: DatabaseService) -> dict[str, dict[str, str]]:
    return {
        name: {doc["_id"]: content_hash(doc) async for doc in service.iter_all(name)}
        for name in await service.list_collections()
    }


@pytest.fixture
def source() -> DatabaseService:
    return DatabaseService(MemoryDriver())


@pytest.fixture
def target() -> DatabaseService:
    return DatabaseService(MemoryDriver())


@pytest.mark.parametrize("name", ["export.ndjson", "export.ndjson.gz"])
async def test_export_import_round_trip(
    source: DatabaseService, target: DatabaseService, tmp_path: Path, name: str
) -> None:
    await _fill(source, {"agents": 1200, "users": 3, "empty-ish": 1})
    path = tmp_path / name
    report = await export_collections(source, path, page_size=100)
    assert report.counts == {"agents": 1200, "empty-ish": 1, "users": 3}
    if name.endswith(".gz"):
        with gzip.open(path) as compressed:
            assert compressed.read(1) == b"{"
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]  # no partial file left
    imported = await import_file(target, path, batch_size=64)
    assert imported.counts == report.counts
    assert await _snapshot(target) == await _snapshot(source)
    again = await import_file(target, path)
    assert again.total == 1204
    assert await _snapshot(target) == await _snapshot(source)


async def test_export_of_selected_collections_and_dry_run(
    source: DatabaseService, tmp_path: Path
) -> None:
    await _fill(source, {"agents": 5, "users": 7})
    path = tmp_path / "out.ndjson"
    dry = await export_collections(source, path, ["users"], dry_run=True)
    assert dry.counts == {"users": 7}
    assert not path.exists()
    await export_collections(source, path, ["users"])
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 7
    record = json.loads(lines[0])
    assert record["collection"] == "users"
    assert "_rev" not in record["doc"]
    assert "_id" not in record["doc"]


@pytest.mark.parametrize(
    ("bad_line", "reason"),
    [
        ("{not json", "not JSON"),
        ('{"collection": "users", "id": "x"}', "expected"),
        ('{"collection": "_users", "id": "x", "doc": {}}', "collection name"),
        ('{"collection": "users", "id": "a\\u0001b", "doc": {}}', "document id"),
        ('{"collection": "users", "id": "x", "doc": {"v": 1e999}}', "not a JSON number"),
        ('{"collection": "users", "id": "x", "doc": [1]}', "JSON object"),
    ],
)
async def test_a_corrupt_line_stops_the_import_with_its_number_before_any_write(
    target: DatabaseService, tmp_path: Path, bad_line: str, reason: str
) -> None:
    good = [json.dumps({"collection": "users", "id": f"u{i}", "doc": {"i": i}}) for i in range(5)]
    after = [json.dumps({"collection": "users", "id": "after", "doc": {"i": 99}})]
    path = tmp_path / "broken.ndjson"
    path.write_text("\n".join([*good, bad_line, *after]) + "\n", encoding="utf-8")
    with pytest.raises(InvalidExportError) as caught:
        await import_file(target, path, batch_size=2)
    assert caught.value.line == 6
    assert reason in str(caught.value)
    # The whole file is checked before the first write: nothing of it is stored.
    assert await target.list_collections() == []


async def test_import_dry_run_validates_and_writes_nothing(
    source: DatabaseService, target: DatabaseService, tmp_path: Path
) -> None:
    await _fill(source, {"agents": 10})
    path = tmp_path / "x.ndjson"
    await export_collections(source, path)
    report = await import_file(target, path, dry_run=True)
    assert report.counts == {"agents": 10}
    assert await target.list_collections() == []


async def test_migrate_copies_everything_and_verify_agrees(
    source: DatabaseService, target: DatabaseService
) -> None:
    await _fill(source, {"agents": 1100, "users": 17, "sessions": 1})
    report = await migrate(source, target, page_size=200)
    assert report.counts == {"agents": 1100, "sessions": 1, "users": 17}
    result = await verify(source, target)
    assert result.equal
    assert result.counts["agents"] == (1100, 1100)
    again = await migrate(source, target)
    assert again.total == 1118
    assert (await verify(source, target)).equal


async def test_verify_lists_every_difference(
    source: DatabaseService, target: DatabaseService
) -> None:
    await _fill(source, {"agents": 4})
    await migrate(source, target)
    await target.delete("agents", "id 0%2Fx")
    await target.save("agents", "id 1%2Fx", {**awkward(1), "n": 1.0})  # int became float
    await target.save("agents", "stray", {"v": 1})
    result = await verify(source, target)
    assert not result.equal
    assert {(d.id, d.kind) for d in result.differences} == {
        ("id 0%2Fx", "missing"),
        ("id 1%2Fx", "different"),
        ("stray", "extra"),
    }
    assert result.counts["agents"] == (4, 4)


class FailAfter(DriverWrapper):
    """Middleware: the target backend goes away after ``batches`` bulk writes."""

    def __init__(self, inner: MemoryDriver, batches: int) -> None:
        super().__init__(inner)
        self.remaining = batches

    async def put_many(self, collection: str, writes: Any) -> list[WriteOutcome]:
        if self.remaining <= 0:
            raise BackendUnavailableError("the target went away")
        self.remaining -= 1
        return await super().put_many(collection, writes)


async def test_an_interrupted_migration_resumes_from_its_checkpoint(
    source: DatabaseService, tmp_path: Path
) -> None:
    await _fill(source, {"agents": 1000, "users": 300})
    store = MemoryDriver()
    checkpoint = tmp_path / "cp.json"
    # agents: 40 batches of 25; users: page 1 (4 batches) and half of page 2.
    flaky = DatabaseService(FailAfter(store, batches=46), close_driver=False)
    with pytest.raises(BackendUnavailableError):
        await migrate(source, flaky, checkpoint_path=checkpoint, checkpoint_id="m1", page_size=100)
    state = Checkpoint.load(checkpoint, "m1")
    assert state is not None
    assert state.finished == ["agents"]
    # Only pages written completely (with every page before them) count; pages that
    # were in flight when the target failed are written again on resume.
    assert state.collection in (None, "users")
    assert state.copied in (0, 100)
    recorder = CallRecorder(store)
    healthy = DatabaseService(recorder, close_driver=False)
    report = await migrate(
        source, healthy, checkpoint_path=checkpoint, checkpoint_id="m1", page_size=100
    )
    assert report.counts == {"users": 300}
    written = sum(1 for op, _ in recorder.calls if op == "put_many")
    assert written == (300 - state.copied) // 25  # agents are not copied again
    assert not checkpoint.exists()
    assert (await verify(source, healthy)).equal


async def test_a_checkpoint_of_another_migration_is_ignored(
    source: DatabaseService, target: DatabaseService, tmp_path: Path
) -> None:
    await _fill(source, {"agents": 3})
    checkpoint = tmp_path / "cp.json"
    Checkpoint("other", finished=["agents"]).save(checkpoint)
    report = await migrate(source, target, checkpoint_path=checkpoint, checkpoint_id="mine")
    assert report.counts == {"agents": 3}


async def test_progress_is_plain_lines_when_not_a_terminal(
    source: DatabaseService, target: DatabaseService
) -> None:
    await _fill(source, {"agents": 30})
    stream = io.StringIO()
    await migrate(source, target, progress=Progress(stream), page_size=10)
    text = stream.getvalue()
    assert "\r" not in text
    assert "agents" in text
    assert "30 docs" in text
    assert text.rstrip().endswith("done")


async def test_migrate_dry_run_counts_and_writes_nothing(
    source: DatabaseService, target: DatabaseService, tmp_path: Path
) -> None:
    await _fill(source, {"agents": 12})
    checkpoint = tmp_path / "cp.json"
    report = await migrate(source, target, checkpoint_path=checkpoint, dry_run=True)
    assert report.dry_run
    assert report.counts == {"agents": 12}
    assert await target.list_collections() == []
    assert not checkpoint.exists()


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(doc_id=document_ids, body=documents)
async def test_any_valid_document_survives_export_and_import(
    tmp_path_factory: pytest.TempPathFactory, doc_id: str, body: dict[str, Any]
) -> None:
    source = DatabaseService(MemoryDriver())
    target = DatabaseService(MemoryDriver())
    await source.save("things", doc_id, body)
    path = tmp_path_factory.mktemp("export") / "x.ndjson.gz"
    await export_collections(source, path)
    await import_file(target, path)
    got = await target.get("things", doc_id)
    assert_same_json({k: v for k, v in got.items() if k != "_rev"}, {"_id": doc_id, **body})


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_a_bar_redrawn_in_place_on_a_terminal() -> None:
    stream = _Terminal()
    progress = Progress(stream)
    progress.start("agents", total=30)
    progress.advance(15)
    progress.finish()
    text = stream.getvalue()
    assert text.startswith("\r")
    assert "50%" in text
    assert "15/30" in text
    assert text.endswith("\n")


def _redraws(text: str) -> list[list[str]]:
    """The successive states of each terminal line: the pieces between carriage returns."""
    return [[piece for piece in line.split("\r") if piece] for line in text.split("\n")]


def test_a_shorter_redraw_leaves_no_old_characters_behind() -> None:
    """Issue 12 item 13: a redraw shorter than the one before must clear the rest."""
    stream = _Terminal()
    progress = Progress(stream)
    progress.start("agents")
    progress.advance(1_000_000)
    time.sleep(0.15)
    progress.advance(1)  # redrawn at a high rate: a long line
    time.sleep(1.2)
    progress.finish()  # the rate fell: a shorter line
    shown = [states for states in _redraws(stream.getvalue()) if len(states) > 1]
    assert shown, "nothing was redrawn in place"
    for states in shown:
        for before, after in itertools.pairwise(states):
            # what the terminal shows after the redraw: `after`, then whatever of `before`
            # it did not overwrite; it must be blank.
            assert not before[len(after) :].strip(), (before, after)


async def test_migration_progress_on_a_terminal_is_a_bar_to_100_percent(
    source: DatabaseService, target: DatabaseService
) -> None:
    await _fill(source, {"agents": 30})
    stream = _Terminal()
    await migrate(source, target, progress=Progress(stream), page_size=10)
    text = stream.getvalue()
    assert text.count("\r") >= 2  # redrawn, not one line per page
    assert "30/30" in text and "100%" in text  # the first pass counted: a real percentage


async def test_import_progress_knows_its_totals(
    source: DatabaseService, target: DatabaseService, tmp_path: Path
) -> None:
    await _fill(source, {"agents": 12, "users": 8})
    path = tmp_path / "x.ndjson"
    await export_collections(source, path)
    stream = io.StringIO()
    await import_file(target, path, progress=Progress(stream))
    lines = stream.getvalue().splitlines()
    assert any(line.startswith("agents") and "12/12 docs 100%" in line for line in lines)
    assert any(line.startswith("users") and "8/8 docs 100%" in line for line in lines)
