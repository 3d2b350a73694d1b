"""One MemoryDriver shared by services on different loops and threads: the memory driver
is the store, so an awaited service and sync facades over it must see one consistent set
of documents (the fault suite runs exactly this way)."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator

import pytest

from asyncdb import DatabaseService, SyncDatabaseService
from asyncdb.drivers.memory import MemoryDriver

THREADS, INCREMENTS = 6, 150


@pytest.fixture
def frequent_switches() -> Iterator[None]:
    # Threads switch every microsecond instead of every 5 ms, so that an unguarded
    # read-then-write in the driver is interleaved within a few calls.
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(before)


def _increment(facade: SyncDatabaseService, key: str) -> None:
    for _ in range(INCREMENTS):
        facade.update("counters", "c", lambda doc: {**doc, key: doc.get(key, 0) + 1})
        facade.save("notes", f"{key}-{_}", {"n": _, "text": "x" * 200})


def test_facades_on_threads_sharing_one_driver_lose_nothing(frequent_switches: None) -> None:
    shared = MemoryDriver()
    facades = [SyncDatabaseService(DatabaseService(shared)) for _ in range(THREADS)]
    try:
        facades[0].create("counters", "c", {"all": 0})
        threads = [threading.Thread(target=_increment, args=(facade, "all")) for facade in facades]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert not any(thread.is_alive() for thread in threads)
        counter = facades[0].get("counters", "c")
        assert counter["all"] == THREADS * INCREMENTS
        notes = facades[0].list_all("notes")
        # Every stored body reads back whole: no two writes shared the pickler at once.
        assert len(notes) == INCREMENTS
        assert all(note["text"] == "x" * 200 for note in notes)
    finally:
        for facade in facades:
            facade.close()
