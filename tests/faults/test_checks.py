"""The history checks themselves: each one fails on the history of the defect it is for
(a check that cannot fail would let the fault suite pass anything)."""

from __future__ import annotations

from typing import Any

from asyncdb.errors import BackendUnavailableError, ConflictError, WriteOutcomeUnknownError
from tests.faults._history import History, classify


def _update(history: History, op_id: str, exc: BaseException | None) -> None:
    history.end(history.begin(op_id, "update", "w"), exc)


def test_outcomes_are_classified_as_the_caller_sees_them() -> None:
    assert classify(None) == "acked"
    assert classify(ConflictError("stale")) == "failed"
    assert classify(WriteOutcomeUnknownError("lost")) == "unknown"
    assert classify(BackendUnavailableError("down")) == "unavailable"
    assert classify(RuntimeError("boom")) == "foreign"


def test_an_update_applied_twice_is_found() -> None:
    history = History()
    _update(history, "w.1", None)
    _update(history, "w.2", None)
    found = history.check_counter({"n": 3, "ops": ["w.1", "w.2", "w.2"]})
    assert found["doubled"] == 1
    assert any("applied 2 times: w.2" in v for v in history.violations)


def test_an_acknowledged_update_missing_is_lost() -> None:
    history = History()
    _update(history, "w.1", None)
    _update(history, "w.2", None)
    assert history.check_counter({"n": 1, "ops": ["w.1"]})["lost"] == 1


def test_an_update_reported_as_a_conflict_but_applied_is_misreported() -> None:
    history = History()
    _update(history, "w.1", ConflictError("lost a race"))
    assert history.check_counter({"n": 1, "ops": ["w.1"]})["misreported"] == 1


def test_a_counter_within_acked_and_unknown_passes() -> None:
    history = History()
    _update(history, "w.1", None)
    _update(history, "w.2", WriteOutcomeUnknownError("lost answer"))
    _update(history, "w.3", WriteOutcomeUnknownError("lost answer"))
    history.check_counter({"n": 2, "ops": ["w.1", "w.3"]})
    assert history.violations == []


def _written(history: History, doc_id: str, tag: str, exc: BaseException | None, rev: str) -> None:
    op = history.begin(tag, "bulk", "w")
    write = history.write(op, doc_id, tag)
    write.outcome = history.end(op, exc)
    write.rev = rev if exc is None else None


def _doc(doc_id: str, tag: str, rev: str) -> dict[str, Any]:
    return {"_id": doc_id, "_rev": rev, "owner": doc_id, "tag": tag}


def test_a_document_with_another_documents_revision_is_found() -> None:
    history = History()
    _written(history, "b.1", "t1", None, "1-a")
    found = history.check_documents({"b.1": _doc("b.1", "t1", "1-b")}, set())
    assert found["misreported"] == 1


def test_a_document_holding_a_refused_write_is_found() -> None:
    history = History()
    _written(history, "b.1", "t1", None, "1-a")
    _written(history, "b.1", "t2", ConflictError("stale"), "")
    found = history.check_documents({"b.1": _doc("b.1", "t2", "2-x")}, set())
    assert found["misreported"] == 1


def test_a_document_missing_or_holding_anothers_content_is_found() -> None:
    history = History()
    _written(history, "b.1", "t1", None, "1-a")
    _written(history, "b.2", "t2", None, "1-b")
    found = history.check_documents({"b.1": None, "b.2": _doc("b.1", "t2", "1-b")}, set())
    assert found["lost"] == 1
    assert any("another document's content" in v for v in history.violations)


def test_an_unknown_write_may_or_may_not_be_there() -> None:
    history = History()
    _written(history, "b.1", "t1", None, "1-a")
    _written(history, "b.1", "t2", WriteOutcomeUnknownError("lost"), "")
    history.check_documents({"b.1": _doc("b.1", "t2", "2-x")}, set())
    history.check_documents({"b.1": _doc("b.1", "t1", "1-a")}, set())
    assert history.violations == []


def _cas(history: History, tag: str, base: str, exc: BaseException | None) -> None:
    op = history.begin(tag, "cas", "w", base_rev=base)
    write = history.write(op, "register", tag, conditional_on=base)
    write.outcome = history.end(op, exc)


def _read(history: History, value: str) -> None:
    history.end(history.begin("r", "read", "w"), None, value=value)


def test_a_read_of_a_refused_write_is_found() -> None:
    history = History()
    _cas(history, "v1", "1-a", ConflictError("stale"))
    _read(history, "v1")
    history.check_register("register", "initial", {"tag": "initial"})
    assert any("which was refused" in v for v in history.violations)


def test_two_acknowledged_writes_on_one_revision_are_found() -> None:
    history = History()
    _cas(history, "v1", "1-a", None)
    _cas(history, "v2", "1-a", None)
    history.check_register("register", "initial", {"tag": "v2"})
    assert any("2 acknowledged conditional writes on revision 1-a" in v for v in history.violations)


def test_a_register_overtaken_by_a_later_acknowledged_write_is_found() -> None:
    history = History()
    _cas(history, "v1", "1-a", None)
    _cas(history, "v2", "2-b", None)
    history.check_register("register", "initial", {"tag": "v1"})
    assert any("acknowledged after it" in v for v in history.violations)


def test_a_plain_unavailable_write_found_applied_is_misreported() -> None:
    history = History()
    _update(history, "w.1", BackendUnavailableError("retries ran out"))
    assert history.check_counter({"n": 1, "ops": ["w.1"]})["misreported"] == 1
    history = History()
    _written(history, "s.1", "t1", BackendUnavailableError("retries ran out"), "")
    assert history.check_documents({"s.1": _doc("s.1", "t1", "1-a")}, set())["misreported"] == 1
