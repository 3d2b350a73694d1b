"""``migrate`` and ``import`` check every document against the target's size limit before
writing anything, and report each one that cannot move (issue 11 item 8)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from asyncdb import DatabaseService
from asyncdb._documents import MAX_DOCUMENT_BYTES, prepare_document
from asyncdb.drivers.memory import MemoryDriver
from asyncdb.testing import CallRecorder
from asyncdb.transfer import export_collections, import_file, migrate
from asyncdb.transfer._fit import MAX_LISTED, FitCheck, Misfit, TargetLimitError

BIG = "x" * 450_000  # over the portable 400,000 bytes, well under memory's native cap


class SmallMemoryDriver(MemoryDriver):
    """A memory backend whose own limit is 2,000 bytes by the default native measure."""

    limits = dataclasses.replace(MemoryDriver.limits, native_document_bytes=2_000)


def native(driver: MemoryDriver | None = None) -> DatabaseService:
    return DatabaseService(driver or MemoryDriver(), size_limit="native")


async def _source_with_big_documents() -> DatabaseService:
    """A native-mode source (memory: 16 MiB) holding two documents too large for portable."""
    source = native()
    assert (await source.save_many("agents", [{"_id": f"a{i}", "i": i} for i in range(50)])).ok
    await source.save("agents", "big-agent", {"code": BIG})
    await source.save("users", "big-user", {"usage": [{"note": BIG}]})
    await source.save("users", "u1", {"name": "Ada"})
    return source


def _portable_size(doc_id: str, body: dict[str, Any]) -> int:
    return prepare_document(body, doc_id, max_bytes=None).size


async def test_migrate_lists_what_cannot_move_and_writes_nothing(tmp_path: Path) -> None:
    source = await _source_with_big_documents()
    recorder = CallRecorder(MemoryDriver())
    target = DatabaseService(recorder)
    checkpoint = tmp_path / "cp.json"
    with pytest.raises(TargetLimitError) as caught:
        await migrate(source, target, checkpoint_path=checkpoint, checkpoint_id="m")
    error = caught.value
    assert error.total == 2 and error.mode == "portable"
    assert sorted(error.misfits, key=lambda m: m.id) == [
        Misfit("agents", "big-agent", _portable_size("big-agent", {"code": BIG}), 400_000),
        Misfit(
            "users", "big-user", _portable_size("big-user", {"usage": [{"note": BIG}]}), 400_000
        ),
    ]
    assert all(m.size > MAX_DOCUMENT_BYTES for m in error.misfits)
    assert not [op for op, _ in recorder.calls if op in ("put", "put_many")]
    assert await target.list_collections() == []
    assert not checkpoint.exists()


async def test_a_dry_run_reports_them_too() -> None:
    source = await _source_with_big_documents()
    target = DatabaseService(MemoryDriver())
    with pytest.raises(TargetLimitError) as caught:
        await migrate(source, target, dry_run=True)
    assert {m.id for m in caught.value.misfits} == {"big-agent", "big-user"}


async def test_a_native_target_takes_what_the_portable_limit_refuses() -> None:
    source = await _source_with_big_documents()
    target = native()
    report = await migrate(source, target)
    assert report.counts == {"agents": 51, "users": 2}
    assert (await target.get("agents", "big-agent"))["code"] == BIG


async def test_the_native_limit_and_measure_are_the_targets_own(tmp_path: Path) -> None:
    source = DatabaseService(MemoryDriver())
    await source.save("demos", "small", {"text": "y" * 100})
    await source.save("demos", "medium", {"text": "y" * 3_000})  # fits portable, not 2,000
    target_driver = SmallMemoryDriver()
    target = native(target_driver)
    with pytest.raises(TargetLimitError) as caught:
        await migrate(source, target)
    body = {"text": "y" * 3_000}
    assert caught.value.misfits == [
        Misfit("demos", "medium", target_driver.native_document_size("medium", body), 2_000)
    ]
    assert caught.value.mode == "native"
    assert await target.list_collections() == []
    # the same file imported: the same answer, nothing written
    path = tmp_path / "demos.ndjson"
    await export_collections(source, path)
    with pytest.raises(TargetLimitError) as again:
        await import_file(target, path)
    assert again.value.misfits == caught.value.misfits
    assert await target.list_collections() == []


async def test_import_checks_the_whole_file_before_writing(tmp_path: Path) -> None:
    lines = [{"collection": "users", "id": f"u{i}", "doc": {"i": i}} for i in range(10)]
    lines.insert(3, {"collection": "users", "id": "huge", "doc": {"blob": BIG}})
    path = tmp_path / "export.ndjson"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    target = DatabaseService(MemoryDriver())
    for dry_run in (True, False):
        with pytest.raises(TargetLimitError) as caught:
            await import_file(target, path, dry_run=dry_run, batch_size=2)
        assert [(m.collection, m.id) for m in caught.value.misfits] == [("users", "huge")]
        assert caught.value.misfits[0].limit == MAX_DOCUMENT_BYTES
        assert await target.list_collections() == []
    # the file is fine for a target with room: every line arrives
    roomy = native()
    assert (await import_file(roomy, path)).counts == {"users": 11}


async def test_the_listing_is_bounded_but_the_count_is_not() -> None:
    check = FitCheck(native(SmallMemoryDriver()))
    for i in range(MAX_LISTED + 5):
        await check.check("demos", f"d{i}", {"text": "z" * 2_500})
    await check.check("demos", "fits", {"text": "ok"})
    assert check.counts == {"demos": MAX_LISTED + 6}
    assert len(check.misfits) == MAX_LISTED and check.total_misfits == MAX_LISTED + 5
    with pytest.raises(TargetLimitError, match=f"{MAX_LISTED + 5} documents exceed"):
        check.raise_if_any()
