"""Coalescing (``asyncdb._coalesce``) over a fake driver that records every call: which
concurrent calls become one batch, and that each caller gets its own answer or error."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from asyncdb import DatabaseService
from asyncdb._coalesce import CoalescingDriver
from asyncdb._factory import create_database_service
from asyncdb._settings import Settings
from asyncdb.drivers.base import (
    Body,
    Driver,
    DriverLimits,
    Record,
    ScanPage,
    WriteOutcome,
    WriteRequest,
)
from asyncdb.drivers.memory import MemoryDriver
from asyncdb.errors import (
    BackendError,
    BackendUnavailableError,
    DocumentTooLargeError,
    NotFoundError,
    WriteOutcomeUnknownError,
)
from asyncdb.middleware import PrefixMiddleware, StatisticsMiddleware
from asyncdb.testing.recorder import CallRecorder


class Fake(Driver):
    """A driver with native batches that answers from a dict after one loop iteration."""

    name = "fake"

    def __init__(self, limits: DriverLimits | None = None) -> None:
        self.docs: dict[str, Record] = {}
        self.calls: list[tuple[str, Any]] = []
        self.failure: BaseException | None = None  # raised by the next call, whole
        self.refused: dict[str, Exception] = {}  # per-document errors of put_many
        self.bad: set[str] = set()  # ids whose get raises (an unreadable row)
        self.gate: asyncio.Event | None = None  # when set, calls wait for it
        self.revs = 0
        if limits is not None:
            self.limits = limits

    async def _io(self, what: str, arg: Any) -> None:
        self.calls.append((what, arg))
        if self.gate is not None:
            await self.gate.wait()
        await asyncio.sleep(0)
        if self.failure is not None:
            raise self.failure

    def _write(self, doc_id: str, body: Body) -> str:
        self.revs += 1
        rev = f"{self.revs}-x"
        self.docs[doc_id] = Record(doc_id, rev, dict(body))
        return rev

    def _read(self, doc_id: str) -> Record | None:
        found = self.docs.get(doc_id)
        return None if found is None else Record(found.id, found.rev, dict(found.body))

    async def get(self, collection: str, doc_id: str) -> Record | None:
        await self._io("get", doc_id)
        if doc_id in self.bad:
            raise BackendError(f"{doc_id} cannot be read")
        return self._read(doc_id)

    async def get_many(self, collection: str, ids: Sequence[str]) -> dict[str, Record]:
        await self._io("get_many", list(ids))
        found = {doc_id: self._read(doc_id) for doc_id in ids if doc_id not in self.bad}
        return {doc_id: record for doc_id, record in found.items() if record is not None}

    async def put(
        self,
        collection: str,
        doc_id: str,
        body: Body,
        *,
        if_rev: str | None = None,
        if_absent: bool = False,
    ) -> str:
        await self._io("put", (doc_id, if_rev, if_absent))
        return self._write(doc_id, body)

    async def put_many(self, collection: str, writes: Sequence[WriteRequest]) -> list[WriteOutcome]:
        await self._io("put_many", [write.id for write in writes])
        outcomes = []
        for write in writes:
            error = self.refused.get(write.id)
            if error is None:
                outcomes.append(WriteOutcome(write.id, self._write(write.id, write.body)))
            else:
                outcomes.append(WriteOutcome(write.id, error=error))  # type: ignore[arg-type]
        return outcomes

    async def delete(self, collection: str, doc_id: str, *, if_rev: str | None = None) -> bool:
        await self._io("delete", doc_id)
        return self.docs.pop(doc_id, None) is not None

    async def scan(self, collection: str, *, after: str | None, limit: int) -> ScanPage:
        return ScanPage([], None)

    def kinds(self) -> list[str]:
        return [what for what, _ in self.calls]


class Unreadable(Fake):
    get_many_skips_unreadable = True


def _service(driver: Driver, **kwargs: Any) -> DatabaseService:
    return DatabaseService(driver, **kwargs)


async def _fill(fake: Fake, count: int) -> None:
    for index in range(count):
        fake._write(f"d{index}", {"n": index, "nested": {"list": [index]}})


async def test_32_concurrent_gets_are_one_get_many() -> None:
    fake = Fake()
    await _fill(fake, 32)
    db = _service(fake)
    docs = await asyncio.gather(*(db.get("col", f"d{i}") for i in range(32)))
    assert fake.calls == [("get_many", [f"d{i}" for i in range(32)])]
    assert [doc["n"] for doc in docs] == list(range(32))
    assert docs[5] == {"_id": "d5", "_rev": fake.docs["d5"].rev, "n": 5, "nested": {"list": [5]}}


async def test_a_get_alone_is_the_plain_get() -> None:
    fake = Fake()
    await _fill(fake, 1)
    db = _service(fake)
    assert (await db.get("col", "d0"))["n"] == 0
    assert fake.calls == [("get", "d0")]
    with pytest.raises(NotFoundError):
        await db.get("col", "nope")
    assert fake.kinds() == ["get", "get"]


async def test_a_missing_document_in_a_batch_is_not_found_for_its_caller_only() -> None:
    fake = Fake()
    await _fill(fake, 2)
    db = _service(fake)
    got = await asyncio.gather(
        db.get("col", "d0"), db.get("col", "gone"), db.get("col", "d1"), return_exceptions=True
    )
    assert fake.kinds() == ["get_many"]
    assert isinstance(got[1], NotFoundError)
    assert [got[0]["n"], got[2]["n"]] == [0, 1]  # type: ignore[index]


async def test_gets_of_one_id_share_a_read_but_not_a_body() -> None:
    fake = Fake()
    await _fill(fake, 2)
    db = _service(fake)
    one, two, other = await asyncio.gather(
        db.get("col", "d0"), db.get("col", "d0"), db.get("col", "d1")
    )
    assert fake.calls == [("get_many", ["d0", "d1"])]
    assert one == two
    one["nested"]["list"].append("mine")
    assert two["nested"]["list"] == [0]
    assert other["n"] == 1


async def test_gets_of_one_id_alone_are_one_plain_get() -> None:
    fake = Fake()
    await _fill(fake, 1)
    db = _service(fake)
    one, two = await asyncio.gather(db.get("col", "d0"), db.get("col", "d0"))
    assert fake.calls == [("get", "d0")]
    assert one == two and one["nested"] is not two["nested"]


async def test_gets_on_two_collections_are_two_batches() -> None:
    fake = Fake()
    await _fill(fake, 2)
    db = _service(fake)
    await asyncio.gather(*(db.get(c, f"d{i}") for c in ("aaa", "bbb") for i in range(2)))
    assert fake.kinds() == ["get_many", "get_many"]


async def test_a_failed_batch_read_fails_every_caller() -> None:
    fake = Fake()
    await _fill(fake, 3)
    fake.failure = BackendUnavailableError("down")
    db = _service(fake)
    got = await asyncio.gather(*(db.get("col", f"d{i}") for i in range(3)), return_exceptions=True)
    assert fake.kinds() == ["get_many"]
    assert all(isinstance(answer, BackendUnavailableError) for answer in got)


async def test_an_unexpected_batch_exception_is_each_callers_backend_error() -> None:
    fake = Fake()
    fake.failure = KeyError("oops")
    db = _service(fake)
    got = await asyncio.gather(*(db.get("col", f"d{i}") for i in range(3)), return_exceptions=True)
    assert all(type(answer) is BackendError for answer in got)


async def test_a_malformed_batch_answer_fails_every_caller_and_hangs_none() -> None:
    class Garbled(Fake):
        async def get_many(self, collection: str, ids: Sequence[str]) -> dict[str, Record]:
            return None  # type: ignore[return-value]

    db = _service(Garbled())
    got = await asyncio.wait_for(
        asyncio.gather(*(db.get("col", f"d{i}") for i in range(3)), return_exceptions=True), 5
    )
    assert all(type(answer) is BackendError for answer in got)


async def test_an_unreadable_document_is_gets_own_error_where_get_many_skips_it() -> None:
    fake = Unreadable()
    await _fill(fake, 3)
    fake.bad.add("d1")
    db = _service(fake)
    got = await asyncio.gather(
        db.get("col", "d0"), db.get("col", "d1"), db.get("col", "none"), return_exceptions=True
    )
    assert fake.calls[0] == ("get_many", ["d0", "d1", "none"])
    assert sorted(fake.calls[1:]) == [("get", "d1"), ("get", "none")]
    assert got[0]["n"] == 0  # type: ignore[index]
    assert isinstance(got[1], BackendError) and "cannot be read" in str(got[1])
    assert isinstance(got[2], NotFoundError)


async def test_gets_are_cut_at_the_batch_limit() -> None:
    fake = Fake(DriverLimits(max_get_batch=10))
    await _fill(fake, 25)
    db = _service(fake)
    docs = await asyncio.gather(*(db.get("col", f"d{i % 25}") for i in range(27)))
    sizes = sorted(len(arg) for what, arg in fake.calls)
    assert fake.kinds() == ["get_many"] * 3 and sizes == [5, 10, 10]
    assert [doc["n"] for doc in docs] == [i % 25 for i in range(27)]


async def test_32_concurrent_saves_are_one_put_many() -> None:
    fake = Fake()
    db = _service(fake)
    saved = await asyncio.gather(*(db.save("col", f"s{i}", {"n": i}) for i in range(32)))
    assert fake.calls == [("put_many", [f"s{i}" for i in range(32)])]
    for index, doc in enumerate(saved):
        assert doc == {"_id": f"s{index}", "_rev": fake.docs[f"s{index}"].rev, "n": index}


async def test_a_save_alone_is_the_plain_put() -> None:
    fake = Fake()
    db = _service(fake)
    await db.save("col", "s", {"n": 1})
    assert fake.calls == [("put", ("s", None, False))]


async def test_conditional_writes_stay_single_calls() -> None:
    fake = Fake()
    db = _service(fake)
    first = await db.save("col", "a", {"n": 0})
    await asyncio.gather(
        db.save("col", "a", {"n": 1, "_rev": first["_rev"]}),
        db.create("col", "b", {"n": 2}),
        db.save("col", "x", {"n": 3}),
        db.save("col", "y", {"n": 4}),
    )
    assert {arg for what, arg in fake.calls if what == "put"} == {
        ("a", None, False),
        ("a", first["_rev"], False),
        ("b", None, True),
    }
    assert [arg for what, arg in fake.calls if what == "put_many"] == [["x", "y"]]


async def test_a_refused_document_fails_its_caller_only() -> None:
    fake = Fake()
    fake.refused["s1"] = DocumentTooLargeError("too large")
    fake.refused["s2"] = WriteOutcomeUnknownError("lost")
    db = _service(fake)
    got = await asyncio.gather(
        *(db.save("col", f"s{i}", {"n": i}) for i in range(4)), return_exceptions=True
    )
    assert fake.kinds() == ["put_many"]
    assert isinstance(got[1], DocumentTooLargeError)
    assert isinstance(got[2], WriteOutcomeUnknownError)
    assert got[0]["n"] == 0 and got[3]["n"] == 3  # type: ignore[index]
    assert set(fake.docs) == {"s0", "s3"}


async def test_a_failed_batch_write_fails_every_caller() -> None:
    fake = Fake()
    fake.failure = WriteOutcomeUnknownError("the answer was lost")
    db = _service(fake)
    got = await asyncio.gather(
        *(db.save("col", f"s{i}", {}) for i in range(3)), return_exceptions=True
    )
    assert fake.kinds() == ["put_many"]
    assert all(isinstance(answer, WriteOutcomeUnknownError) for answer in got)


async def test_saves_of_one_id_go_in_separate_batches_in_order_of_arrival() -> None:
    fake = Fake()
    db = _service(fake)
    await asyncio.gather(
        db.save("col", "a", {"v": 1}),
        db.save("col", "b", {"v": 1}),
        db.save("col", "a", {"v": 2}),
        db.save("col", "c", {"v": 1}),
        db.save("col", "a", {"v": 3}),
        db.save("col", "b", {"v": 2}),
    )
    assert fake.calls == [
        ("put_many", ["a", "b", "c"]),
        ("put_many", ["a", "b"]),
        ("put", ("a", None, False)),
    ]
    assert fake.docs["a"].body == {"v": 3} and fake.docs["b"].body == {"v": 2}


async def test_saves_are_cut_at_the_batch_limit() -> None:
    fake = Fake(DriverLimits(max_write_batch=25))
    db = _service(fake)
    await asyncio.gather(*(db.save("col", f"s{i}", {}) for i in range(60)))
    assert sorted(len(arg) for _, arg in fake.calls) == [10, 25, 25]
    assert fake.kinds() == ["put_many"] * 3 and len(fake.docs) == 60


async def test_a_caller_cancelled_before_the_flush_is_left_out() -> None:
    fake = Fake()
    await _fill(fake, 3)
    db = _service(fake)
    tasks = [asyncio.ensure_future(db.save("col", f"s{i}", {})) for i in range(3)]
    await asyncio.sleep(0)  # every task has joined the batch; the flush comes next
    tasks[1].cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert fake.calls == [("put_many", ["s0", "s2"])]
    assert tasks[1].cancelled() and tasks[0].result()["_id"] == "s0"


async def test_a_caller_cancelled_during_the_batch_cancels_nobody_else() -> None:
    fake = Fake()
    await _fill(fake, 3)
    fake.gate = asyncio.Event()
    db = _service(fake)
    tasks = [asyncio.ensure_future(db.get("col", f"d{i}")) for i in range(3)]
    for _ in range(3):  # the flush, then the batch task reaches the driver
        await asyncio.sleep(0)
    assert fake.kinds() == ["get_many"]
    tasks[0].cancel()
    fake.gate.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert tasks[0].cancelled()
    assert [task.result()["n"] for task in tasks[1:]] == [1, 2]
    assert fake.kinds() == ["get_many"]


async def test_only_one_left_after_cancellations_goes_alone() -> None:
    fake = Fake()
    await _fill(fake, 2)
    db = _service(fake)
    tasks = [asyncio.ensure_future(db.get("col", f"d{i}")) for i in range(2)]
    await asyncio.sleep(0)
    tasks[0].cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert fake.calls == [("get", "d1")]


async def test_the_off_switch_sends_every_call_alone() -> None:
    fake = Fake()
    await _fill(fake, 4)
    db = _service(fake, coalesce=False)
    await asyncio.gather(*(db.get("col", f"d{i}") for i in range(4)))
    await asyncio.gather(*(db.save("col", f"s{i}", {}) for i in range(4)))
    assert fake.kinds() == ["get"] * 4 + ["put"] * 4


def test_the_setting_reaches_the_service(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().coalesce is True
    monkeypatch.setenv("DATABASE_COALESCE", "false")
    settings = Settings()
    assert settings.coalesce is False
    fake = Fake()
    assert create_database_service(settings, driver=fake)._batching is fake
    coalescing = create_database_service(driver=fake)
    assert isinstance(coalescing._batching, CoalescingDriver)
    assert coalescing.driver is fake  # the driver given, not the coalescer over it


async def test_middleware_sees_the_applications_calls() -> None:
    fake = Fake()
    await _fill(fake, 4)
    recorder = CallRecorder(PrefixMiddleware(fake, "p_"))
    db = _service(recorder)
    assert db.driver is recorder  # the chain keeps its identity
    await asyncio.gather(*(db.get("col", f"d{i}") for i in range(4)))
    assert recorder.calls == [("get", "col")] * 4
    assert fake.kinds() == ["get_many"]
    assert isinstance(recorder.inner, PrefixMiddleware)
    assert isinstance(recorder.inner.inner, CoalescingDriver)
    again = _service(recorder)  # a second service over the same chain: one coalescer
    assert isinstance(recorder.inner.inner, CoalescingDriver)
    assert recorder.inner.inner.inner is fake and again.driver is recorder
    assert recorder.inner.inner.docs is fake.docs  # the driver's own attributes show through


async def test_statistics_count_each_call() -> None:
    fake = Fake()
    await _fill(fake, 4)
    stats = StatisticsMiddleware(fake)
    db = _service(stats)
    await asyncio.gather(*(db.get("col", f"d{i}") for i in range(4)))
    assert fake.kinds() == ["get_many"]
    operations = {(row["operation"], row["count"]) for row in stats.snapshot()}
    assert operations == {("get", 4)}


async def test_memory_and_portable_batches_are_not_coalesced() -> None:
    assert _service(MemoryDriver())._batching.__class__ is MemoryDriver

    class Portable(Fake):  # get_many / put_many: the portable defaults of the ABC
        get_many = Driver.get_many
        put_many = Driver.put_many

    fake = Portable()
    await _fill(fake, 3)
    db = _service(fake)
    await asyncio.gather(*(db.get("col", f"d{i}") for i in range(3)))
    await asyncio.gather(*(db.save("col", f"s{i}", {}) for i in range(3)))
    assert fake.kinds() == ["get"] * 3 + ["put"] * 3
