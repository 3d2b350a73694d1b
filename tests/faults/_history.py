"""The record of every operation of a fault run, and the checks over it.

Outcomes, as the caller sees them:
- ``acked``: the call returned; the write happened (or the read returned this value);
- ``failed``: a known refusal — ``ConflictError``, ``NotFoundError``: nothing was written;
- ``unknown``: ``WriteOutcomeUnknownError``, or a ``BackendError`` that is not an
  unavailability: either may be true;
- ``unavailable``: a plain ``BackendUnavailableError``. It counts as unknown for the
  counter's bounds, but a write that raised it must not have been applied: the library
  raises ``WriteOutcomeUnknownError`` whenever an attempt may have landed (issue 10, item
  8), so a plain "unavailable" found applied is a misreport;
- ``foreign``: an exception outside asyncdb's hierarchy — always a defect.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from asyncdb.errors import (
    AsyncDBError,
    BackendError,
    BackendUnavailableError,
    ConflictError,
    NotFoundError,
    ServiceClosedError,
    WriteOutcomeUnknownError,
)

__all__ = ["History", "Op", "Write", "classify"]

#: Outcomes that say the write did not happen.
_NOT_APPLIED = frozenset({"failed", "unavailable"})
#: No single call may take longer than this, whatever the faults (nothing hangs).
MAX_CALL_SECONDS = 60.0


def _shown(op: Op) -> str:
    return (
        f"{op.op_id} by {op.writer} [{op.start:.3f}-{op.end:.3f}s] -> {op.outcome}"
        f"{' ' + op.error if op.error else ''} rev={op.rev}"
    )


def classify(exc: BaseException | None) -> str:
    if exc is None:
        return "acked"
    if isinstance(exc, ConflictError | NotFoundError):
        return "failed"
    if isinstance(exc, ServiceClosedError):
        return "foreign"  # the run never closes its services while writers run
    if isinstance(exc, BackendUnavailableError) and not isinstance(exc, WriteOutcomeUnknownError):
        return "unavailable"
    if isinstance(exc, BackendError):
        return "unknown"
    if isinstance(exc, AsyncDBError):
        return "foreign"  # a validation error on valid input is a defect too
    return "foreign"


@dataclass
class Op:
    """One call: ``kind`` is update, save, create, read, cas or bulk."""

    op_id: str
    kind: str
    writer: str
    start: float
    end: float = 0.0
    outcome: str = ""
    error: str = ""
    doc_id: str = ""
    value: Any = None
    base_rev: str | None = None
    rev: str | None = None


@dataclass
class Write:
    """One document write of a save, create, cas or bulk item, for the final-state check."""

    op: Op
    doc_id: str
    tag: str
    outcome: str = ""
    rev: str | None = None
    conditional_on: str | None = None


@dataclass
class History:
    ops: list[Op] = field(default_factory=list)
    writes: dict[str, list[Write]] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)
    figures: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _clock: float = field(default_factory=time.monotonic)

    def now(self) -> float:
        return time.monotonic() - self._clock

    def begin(self, op_id: str, kind: str, writer: str, **details: Any) -> Op:
        op = Op(op_id, kind, writer, self.now(), **details)
        with self._lock:
            self.ops.append(op)
        return op

    def end(self, op: Op, exc: BaseException | None, **details: Any) -> str:
        op.end = self.now()
        op.outcome = classify(exc)
        if exc is not None:
            op.error = type(exc).__name__
        for name, value in details.items():
            setattr(op, name, value)
        return op.outcome

    def write(self, op: Op, doc_id: str, tag: str, conditional_on: str | None = None) -> Write:
        entry = Write(op, doc_id, tag, conditional_on=conditional_on)
        with self._lock:
            self.writes.setdefault(doc_id, []).append(entry)
        return entry

    # -- figures ---------------------------------------------------------------------------
    def counts(self) -> Counter[str]:
        return Counter(op.outcome for op in self.ops if op.kind != "read")

    def excerpt(
        self, doc_id: str, limit: int = 12, around: tuple[float, float] | None = None
    ) -> str:
        """The writes of one document, for a violation's message: the last ``limit``, or
        the ones that overlap the time window ``around``."""
        writes = self.writes.get(doc_id, [])
        if around is not None:
            writes = [w for w in writes if w.op.end >= around[0] and w.op.start <= around[1]]
        lines = [
            f"  {w.op.op_id} {w.op.kind} by {w.op.writer} [{w.op.start:.3f}-{w.op.end:.3f}s]"
            f" tag={w.tag} base={w.conditional_on} -> {w.outcome} {w.op.error} rev={w.rev}"
            for w in writes[-limit:]
        ]
        return "\n".join(lines)

    def violate(self, message: str) -> None:
        self.violations.append(message)

    # -- checks ----------------------------------------------------------------------------
    def check_calls(self) -> None:
        for op in self.ops:
            if op.outcome == "foreign":
                self.violate(f"{op.op_id} {op.kind}: {op.error} is outside the hierarchy")
            if op.end - op.start > MAX_CALL_SECONDS:
                self.violate(f"{op.op_id} {op.kind} took {op.end - op.start:.1f}s")

    def check_counter(self, stored: dict[str, Any] | None) -> dict[str, int]:
        """Each update appended its own op id to ``ops`` (a patch set it in ``patched``):
        none twice, every acked one present, none that was refused, the count within
        [acked, acked + unknown]."""
        updates = [op for op in self.ops if op.kind == "update"]
        by_outcome = {op.op_id: op.outcome for op in updates}
        # Updates append their op ids to ``ops``; patches set them as keys of ``patched``.
        applied: list[str] = [
            *(stored or {}).get("ops", []),
            *(stored or {}).get("patched", {}),
        ]
        seen = Counter(applied)
        doubled = sorted(op_id for op_id, n in seen.items() if n > 1)
        lost = sorted(
            i for i, outcome in by_outcome.items() if outcome == "acked" and i not in seen
        )
        refused = sorted(i for i in seen if by_outcome.get(i) in _NOT_APPLIED)
        stranger = sorted(i for i in seen if i not in by_outcome)
        acked = sum(1 for o in by_outcome.values() if o == "acked")
        unknown = sum(1 for o in by_outcome.values() if o in {"unknown", "unavailable"})
        ops = {op.op_id: op for op in updates}
        for op_id in doubled:
            self.violate(f"update applied {seen[op_id]} times: {_shown(ops[op_id])}")
        for op_id in lost:
            self.violate(f"update acknowledged but not applied: {_shown(ops[op_id])}")
        for op_id in refused:
            self.violate(f"update reported as not applied but applied: {_shown(ops[op_id])}")
        for op_id in stranger:
            self.violate(f"the counter holds {op_id}, which no update wrote")
        revs = Counter(op.rev for op in updates if op.outcome == "acked")
        for rev, n in revs.items():
            if n > 1:
                same = [_shown(op) for op in updates if op.rev == rev and op.outcome == "acked"]
                self.violate(
                    f"{n} acknowledged updates returned revision {rev}: " + "; ".join(same)
                )
        count = int((stored or {}).get("n", 0))
        if not acked <= count <= acked + unknown:
            self.violate(
                f"counter {count} outside [acked {acked}, acked + unknown {acked + unknown}]"
            )
        if count != len(applied):
            self.violate(f"counter {count} but {len(applied)} op ids")
        return {"doubled": len(doubled), "lost": len(lost), "misreported": len(refused)}

    def check_documents(
        self, stored: dict[str, dict[str, Any] | None], shared: set[str]
    ) -> dict[str, int]:
        """Each document written by one writer (all but ``shared``) ends as its last
        acknowledged write (with that write's revision) or a later write whose outcome is
        unknown; never a refused write; and it carries its own id."""
        lost = misreported = 0
        for doc_id, writes in self.writes.items():
            if doc_id in shared:
                continue
            doc = stored.get(doc_id)
            last_acked = max((i for i, w in enumerate(writes) if w.outcome == "acked"), default=-1)
            allowed = {w.tag for w in writes[last_acked + 1 :] if w.outcome == "unknown"}
            if last_acked >= 0:
                allowed.add(writes[last_acked].tag)
            refused = {w.tag for w in writes if w.outcome in _NOT_APPLIED}
            tag = None if doc is None else doc.get("tag")
            if doc is not None and doc.get("owner") != doc_id:
                self.violate(
                    f"{doc_id} holds another document's content: {doc}\n" + self.excerpt(doc_id)
                )
            if tag is None and last_acked >= 0:
                lost += 1
                self.violate(
                    f"{doc_id}: acknowledged write lost (document missing)\n" + self.excerpt(doc_id)
                )
            elif tag is not None and tag in refused:
                misreported += 1
                self.violate(
                    f"{doc_id}: holds {tag}, whose write was reported as not applied\n"
                    + self.excerpt(doc_id)
                )
            elif tag is not None and tag not in allowed:
                lost += 1
                self.violate(
                    f"{doc_id}: holds {tag}, not its last acknowledged write\n"
                    + self.excerpt(doc_id)
                )
            elif (
                doc is not None
                and last_acked == len(writes) - 1
                and writes[last_acked].rev is not None
                and doc.get("_rev") != writes[last_acked].rev
            ):
                misreported += 1
                self.violate(
                    f"{doc_id}: stored _rev {doc.get('_rev')} is not the acknowledged "
                    f"{writes[last_acked].rev}\n" + self.excerpt(doc_id)
                )
        return {"lost": lost, "misreported": misreported}

    def check_register(self, register_id: str, initial: str, final: dict[str, Any] | None) -> None:
        """Reads (and the final state) return only values whose write was acknowledged or
        unknown and had started; the final one was not overtaken by a later acknowledged
        write; no two acknowledged conditional writes rest on one revision."""
        writes = self.writes.get(register_id, [])
        started = {w.tag: w for w in writes if w.outcome in {"acked", "unknown"}}
        refused = {w.tag: w for w in writes if w.outcome in _NOT_APPLIED}
        tag = None if final is None else final.get("tag")
        if tag != initial:
            source = started.get(str(tag))
            if source is None:
                self.violate(
                    f"the register ends as {tag}, which no write left there\n"
                    + self.excerpt(register_id)
                )
            else:
                later = [w for w in writes if w.outcome == "acked" and w.op.start > source.op.end]
                if later:
                    self.violate(
                        f"the register ends as {tag} although {later[0].op.op_id} was "
                        "acknowledged after it\n" + self.excerpt(register_id)
                    )
        for op in self.ops:
            if op.kind != "read" or op.outcome != "acked" or op.value == initial:
                continue
            source = started.get(op.value)
            if source is None:
                how = "was refused" if op.value in refused else "was never written"
                since = refused[op.value].op.start if op.value in refused else op.start - 1
                self.violate(
                    f"read {op.op_id} by {op.writer} [{op.start:.3f}-{op.end:.3f}s] returned "
                    f"{op.value} (rev {op.rev}), which {how}\n"
                    + self.excerpt(register_id, limit=30, around=(since, op.end))
                )
            elif source.op.start > op.end:
                self.violate(f"read {op.op_id} returned {op.value} before its write started")
        bases = Counter(w.conditional_on for w in writes if w.outcome == "acked")
        for base, n in bases.items():
            if base is not None and n > 1:
                self.violate(
                    f"{n} acknowledged conditional writes on revision {base}\n"
                    + self.excerpt(register_id)
                )
