"""Index keys as bytes, for backends that order a stored bytes value bytewise (Firestore,
DynamoDB's binary key attributes), and the exact read of a plan over them.

A key is one component per ``KeyLayout`` entry, then ``_id``. A component is a type tag
(the value's rank in the contract's order, plus one) and, for a number or a string, its
value:

- a number: the double nearest it (its IEEE bits made unsigned-ordered) and the exact
  remainder of a 64-bit integer beyond 2**53 (offset by 2048), 76 bits as eleven 7-bit
  bytes, so that ``1`` and ``1.0`` encode alike and 64-bit integers order exactly against
  each other and against floats;
- a string: its UTF-8 (code point order is UTF-8 byte order; lone surrogates as
  ``surrogatepass`` spells them, which sorts them where their code points are), ``00``
  escaped as ``00 03``, ended by ``00 01``, so that ``"a"`` < ``"a\\u0000"`` < ``"a\\u0001"``.

A descending component is complemented (each byte ``b`` becomes ``0xFE - b``), so no
component ever holds ``0xFF``, and ``0xFF`` after a prefix bounds every key under it.

Backends cap a key's size (Firestore orders only an entry's first 1,500 bytes, DynamoDB's
sort keys hold 1,024), so each component gets an equal share of ``budget``; a string that
does not fit is cut and ended ``00 02`` instead: all strings that share the cut prefix
then tie in the key, and ``read_plan`` puts the rows of such a tie in exact order again
from their documents. Bounds on a cut value include its whole tie, and every row is
checked against the query, so a cut never changes an answer.
"""

from __future__ import annotations

import struct
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from asyncdb._evaluate import position_key, resolve, sort_key, value_rank
from asyncdb._query import Query
from asyncdb.drivers._keyplan import KeyLayout, Span, SpanPlan, best, plan_spans
from asyncdb.drivers.base import Record

__all__ = [
    "BytePlan",
    "ByteRange",
    "StaleKey",
    "best_plan",
    "encode_key",
    "encode_parts",
    "read_plan",
]

_FLIP: Final = 0xFE
_TOP: Final = b"\xff"
_END, _CUT, _NUL = b"\x00\x01", b"\x00\x02", b"\x00\x03"
_NUMBER, _STRING = 4, 5
_STRING_TAG: Final = _STRING + 1
_MIN_SHARE: Final = 16  # a number takes 12 bytes; a string needs room to mean something
_REST: Final = 2048
_UNSIGNED: Final = struct.Struct(">Q")
_DOUBLE: Final = struct.Struct(">d")
_FLIPPED: Final = bytes(_FLIP - b if b <= _FLIP else b for b in range(256))


class StaleKey(Exception):
    """A row's stored key is not its document's key: a writer did not keep the index."""

    def __init__(self, doc_id: str) -> None:
        super().__init__(f"the index key stored with document {doc_id!r} is not its key")
        self.doc_id = doc_id


def _share(layout: KeyLayout, budget: int) -> int:
    share = budget // (len(layout.components) + 1)
    if share < _MIN_SHARE:
        raise ValueError(f"an index of {len(layout.components)} fields does not fit {budget} bytes")
    return share


def _number(number: int | float) -> bytes:
    double = float(number) or 0.0  # -0.0 is 0
    rest = number - int(double) if isinstance(number, int) else 0
    (bits,) = _UNSIGNED.unpack(_DOUBLE.pack(double))
    ordered = bits ^ 0xFFFF_FFFF_FFFF_FFFF if bits >> 63 else bits | 1 << 63
    value = ordered << 12 | (rest + _REST)
    return bytes([_NUMBER + 1, *((value >> shift) & 0x7F for shift in range(70, -7, -7))])


def _string(text: str, share: int) -> bytes:
    raw = text.encode("utf-8", "surrogatepass").replace(b"\x00", _NUL)
    room = share - 1 - len(_END)
    if len(raw) <= room:
        return bytes([_STRING_TAG]) + raw + _END
    cut = raw[:room]
    if cut.endswith(b"\x00"):  # half of an escaped NUL: keep the pair whole, or neither
        cut = cut[:-1]
    return bytes([_STRING_TAG]) + cut + _CUT


def _component(rank: tuple[Any, ...], descending: bool, share: int) -> bytes:
    kind = rank[0]
    if kind == _NUMBER:
        part = _number(rank[1])
    elif kind == _STRING:
        part = _string(rank[1], share)
    else:
        part = bytes([kind + 1])
    return part.translate(_FLIPPED) if descending else part


def _exact(part: bytes) -> bool:
    if part[:1] == bytes([_STRING_TAG]):
        return not part.endswith(_CUT)
    if part[:1] == bytes([_FLIP - _STRING_TAG]):
        return not part.endswith(_CUT.translate(_FLIPPED))
    return True


def encode_parts(
    layout: KeyLayout, doc_id: str, body: Mapping[str, Any], *, budget: int
) -> tuple[bytes, ...]:
    """A document's key, one part per component and ``_id`` last."""
    share = _share(layout, budget)
    parts = [
        _component(value_rank(resolve(body, path)), down, share) for path, down in layout.components
    ]
    parts.append(_component((_STRING, doc_id), layout.id_descending, share))
    return tuple(parts)


def encode_key(layout: KeyLayout, doc_id: str, body: Mapping[str, Any], *, budget: int) -> bytes:
    """A document's key under ``layout``: at most ``budget`` bytes, never a ``0xFF``."""
    return b"".join(encode_parts(layout, doc_id, body, budget=budget))


@dataclass(frozen=True, slots=True)
class _Codec:
    """``KeyCodec`` for bytes keys of one size share."""

    share: int

    def component(self, rank: tuple[Any, ...], descending: bool) -> bytes:
        return _component(rank, descending, self.share)

    def type_floor(self, kind: int, descending: bool) -> bytes:
        tag = bytes([kind + 1])
        return tag.translate(_FLIPPED) if descending else tag

    def above(self, part: bytes) -> bytes:
        return part + _TOP

    def top(self) -> bytes:
        return _TOP

    def exact(self, part: bytes) -> bool:
        return _exact(part)

    def key(self, parts: Sequence[bytes]) -> bytes:
        return b"".join(parts)


@dataclass(frozen=True, slots=True)
class ByteRange:
    """Keys from ``low`` to ``high`` (both inclusive, bytewise); ``fixed``: the
    components equality fixes, a prefix of both."""

    low: bytes
    high: bytes
    fixed: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class BytePlan:
    """How a query reads one index: its ranges (maybe none: nothing can match), read
    from high to low when ``descending``."""

    layout: KeyLayout
    ranges: tuple[ByteRange, ...]
    descending: bool
    fixed: int
    bounded: bool


def best_plan(
    layouts: Iterable[KeyLayout],
    query: Query,
    *,
    budget: int,
    min_fixed: Callable[[KeyLayout], int] = lambda layout: 0,
) -> BytePlan | None:
    """The plan, of the layouts that serve ``query``, that narrows the read most."""
    plans = (
        plan_spans(layout, query, _Codec(_share(layout, budget)), min_fixed=min_fixed(layout))
        for layout in layouts
    )
    chosen: SpanPlan[bytes, bytes] | None = best(plans)
    if chosen is None:
        return None
    ranges = [_range(span, chosen.descending) for span in chosen.spans]
    return BytePlan(
        chosen.layout,
        tuple(r for r in ranges if r.low <= r.high),
        chosen.descending,
        chosen.fixed,
        chosen.bounded,
    )


def _range(span: Span[bytes, bytes], descending: bool) -> ByteRange:
    """A span as a range, narrowed to what follows the position a page ended on."""
    low, high = span.low, span.high
    if span.resume is not None:
        # Up to the first cut part only: the rows tied with it may lie on either side.
        parts = list(span.resume)
        cut = next((i for i, part in enumerate(parts) if not _exact(part)), None)
        resume = b"".join(parts if cut is None else parts[: cut + 1])
        # Inclusive: the row at the position itself is dropped by read_plan.
        if descending:
            high = min(high, resume if cut is None else resume + _TOP)
        else:
            low = max(low, resume)
    return ByteRange(low, high, span.fixed)


Read = Callable[[ByteRange, bool], AsyncIterator[Sequence[tuple[bytes, Record]]]]


async def read_plan(
    plan: BytePlan, query: Query, limit: int | None, read: Read, *, budget: int
) -> list[Record]:
    """The query's answer from ``plan``, at most ``limit`` records: ``read`` yields the
    rows of one range in key order (``StaleKey`` when a row's key is not its document's).
    A wrong key is seen only where it is stored: a read that ends before reaching it (a
    ``limit`` met earlier) cannot tell that its document belongs elsewhere."""
    if limit == 0 or not plan.ranges:
        return []
    streams = [_exact_rows(plan, query, span, read, budget) for span in plan.ranges]
    found: list[Record] = []
    try:
        if len(streams) == 1 or not (query.ordered or query.order_by):
            for stream in streams:
                async for record in stream:
                    found.append(record)
                    if limit is not None and len(found) >= limit:
                        return found
            return found
        return await _merge(streams, query, limit)
    finally:
        for stream in streams:
            await stream.aclose()


async def _merge(
    streams: list[AsyncGenerator[Record, None]], query: Query, limit: int | None
) -> list[Record]:
    """Several ranges' rows (each in the query's order) merged into the query's order."""

    def key(record: Record) -> tuple[Any, ...]:
        return sort_key(query.order_by, record.id, record.body)

    heads: dict[int, tuple[tuple[Any, ...], Record]] = {}
    for number, stream in enumerate(streams):
        first = await anext(stream, None)
        if first is not None:
            heads[number] = (key(first), first)
    found: list[Record] = []
    while heads and (limit is None or len(found) < limit):
        number = min(heads, key=lambda n: heads[n][0])
        found.append(heads[number][1])
        following = await anext(streams[number], None)
        if following is None:
            del heads[number]
        else:
            heads[number] = (key(following), following)
    return found


async def _exact_rows(
    plan: BytePlan, query: Query, span: ByteRange, read: Read, budget: int
) -> AsyncGenerator[Record, None]:
    """One range's matching rows after the query's position, in the query's order."""
    start = None if query.after is None else position_key(query.order_by, query.after)
    tie: list[Record] = []
    tie_prefix = b""

    def settled(records: list[Record]) -> list[Record]:
        keyed = sorted(
            ((sort_key(query.order_by, r.id, r.body), r) for r in records),
            key=lambda pair: pair[0],
        )
        return [r for k, r in keyed if (start is None or start < k) and query.matches(r.body)]

    pages = read(span, plan.descending)
    try:
        async for page in pages:
            for stored, record in page:
                parts = encode_parts(plan.layout, record.id, record.body, budget=budget)
                if b"".join(parts) != stored:
                    raise StaleKey(record.id)
                cut = next((i for i, part in enumerate(parts) if not _exact(part)), None)
                prefix = b"" if cut is None else b"".join(parts[: cut + 1])
                if tie and prefix == tie_prefix:
                    tie.append(record)
                    continue
                for ready in settled(tie):
                    yield ready
                tie, tie_prefix = [record], prefix
                if cut is None:  # an exact key ties with nothing: it is settled at once
                    for ready in settled(tie):
                        yield ready
                    tie = []
        for ready in settled(tie):
            yield ready
    finally:
        aclose = getattr(pages, "aclose", None)
        if aclose is not None:
            await aclose()
