"""The reference evaluator: which documents a query matches, and in which order.

Pure Python, no I/O. It is the meaning of the query language (docs/contract.md, "Queries"
and "Order"): the memory driver runs it, the face runs it over a scan for a query a driver
cannot run natively, and the conformance suite holds every backend to it.

The order of values, lowest first: *missing* < ``null`` < ``false`` < ``true`` < numbers
(by value: ``1 == 1.0``) < strings (by Unicode code point) < lists < maps (all lists are
equal to each other, and so are all maps: such values sort by type only).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Protocol, TypeVar

if TYPE_CHECKING:
    from asyncdb._query import Condition, Order, Scalar

__all__ = [
    "MISSING",
    "Position",
    "arrange",
    "arrange_records",
    "json_equal",
    "matches",
    "position_key",
    "position_of",
    "resolve",
    "sort_key",
    "value_rank",
]

T = TypeVar("T")


class Stored(Protocol):
    """What ``arrange_records`` sorts: a driver's ``Record``, or anything with its id and
    body."""

    @property
    def id(self) -> str: ...

    @property
    def body(self) -> Mapping[str, Any]: ...


S = TypeVar("S", bound=Stored)


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


#: What ``resolve`` returns for a path a document does not hold.
MISSING: Final = _Missing()

# Ranks of the value classes, lowest first. A rank tuple is (rank,) or (rank, value); it
# is what sorting compares and what a find_page cursor stores.
_MISSING, _NULL, _FALSE, _TRUE, _NUMBER, _STRING, _LIST, _MAP = range(8)


@dataclass(frozen=True, slots=True)
class Position:
    """Where a page ended: the rank tuples of its last document's ``order_by`` values and
    its ``_id``. The next page holds what sorts strictly after it."""

    keys: tuple[tuple[Any, ...], ...]
    id: str


def resolve(body: Mapping[str, Any], segments: Sequence[str]) -> Any:
    """The value at ``segments`` (through maps only; a list is not traversed)."""
    value: Any = body
    for segment in segments:
        if not isinstance(value, Mapping) or segment not in value:
            return MISSING
        value = value[segment]
    return value


def json_equal(stored: object, wanted: Scalar) -> bool:
    """Equality as JSON defines it: numbers compare by value, booleans only to booleans."""
    if wanted is None or isinstance(wanted, bool):
        return stored is wanted
    if isinstance(stored, bool):
        return False
    if isinstance(wanted, str):
        return isinstance(stored, str) and stored == wanted
    return isinstance(stored, int | float) and stored == wanted


def _same_class(stored: object, bound: str | int | float) -> bool:
    if isinstance(bound, str):
        return isinstance(stored, str)
    return isinstance(stored, int | float) and not isinstance(stored, bool)


def _holds(condition: Condition, value: Any) -> bool:
    operator = condition.operator
    if operator == "$exists":
        return (value is not MISSING) is condition.values[0]
    if value is MISSING:
        return False  # every other operator needs the field
    if operator in ("$eq", "$in"):
        return any(json_equal(value, wanted) for wanted in condition.values)
    if operator == "$ne":
        return not json_equal(value, condition.values[0])
    bound = condition.values[0]
    assert isinstance(bound, str | int | float)
    # Ranges are bracketed by type: a number bound matches numbers only, a string bound
    # strings only (as on Firestore and DynamoDB).
    if not _same_class(value, bound):
        return False
    if operator == "$gt":
        return bool(value > bound)
    if operator == "$gte":
        return bool(value >= bound)
    if operator == "$lt":
        return bool(value < bound)
    return bool(value <= bound)  # $lte


def matches(conditions: Iterable[Condition], body: Mapping[str, Any]) -> bool:
    """Whether ``body`` satisfies every condition."""
    return all(_holds(c, resolve(body, c.segments)) for c in conditions)


def value_rank(value: Any) -> tuple[Any, ...]:
    """The rank tuple of a stored value (or ``MISSING``), compared in the contract's order."""
    if value is MISSING:
        return (_MISSING,)
    if value is None:
        return (_NULL,)
    if value is False:
        return (_FALSE,)
    if value is True:
        return (_TRUE,)
    if isinstance(value, int | float):
        return (_NUMBER, value)
    if isinstance(value, str):
        return (_STRING, value)
    if isinstance(value, list):
        return (_LIST,)
    return (_MAP,)


class _Descending:
    """Reverses the comparison of what it wraps (one ``order_by`` field, or ``_id``)."""

    __slots__ = ("key",)

    def __init__(self, key: Any) -> None:
        self.key = key

    def __lt__(self, other: _Descending) -> bool:
        return bool(other.key < self.key)

    def __gt__(self, other: _Descending) -> bool:
        return bool(other.key > self.key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Descending) and bool(self.key == other.key)

    def __hash__(self) -> int:
        return hash(self.key)


def _directed(
    order: Sequence[Order], keys: Sequence[tuple[Any, ...]], doc_id: str
) -> tuple[Any, ...]:
    parts: list[Any] = [
        _Descending(key) if entry.descending else key
        for entry, key in zip(order, keys, strict=True)
    ]
    # Ties go by _id, in the direction of the last order_by field (ascending without one).
    parts.append(_Descending(doc_id) if order and order[-1].descending else doc_id)
    return tuple(parts)


def sort_key(order: Sequence[Order], doc_id: str, body: Mapping[str, Any]) -> tuple[Any, ...]:
    """What ``sorted`` compares for one document under ``order``."""
    return _directed(order, [value_rank(resolve(body, o.path)) for o in order], doc_id)


def position_key(order: Sequence[Order], position: Position) -> tuple[Any, ...]:
    """What ``sorted`` compares for the position a page ended on: a document belongs to
    the next page when its ``sort_key`` is greater."""
    return _directed(order, position.keys, position.id)


def position_of(order: Sequence[Order], doc_id: str, body: Mapping[str, Any]) -> Position:
    """The position of a document, for the cursor of the page it ends."""
    return Position(tuple(value_rank(resolve(body, o.path)) for o in order), doc_id)


def arrange(
    items: Iterable[T],
    order: Sequence[Order],
    *,
    after: Position | None,
    limit: int | None,
    identify: Callable[[T], tuple[str, Mapping[str, Any]]],
) -> list[T]:
    """``items`` (already filtered) sorted by ``order``, those after ``after``, at most
    ``limit`` of them. ``identify`` gives an item's ``(_id, body)``."""
    keyed = [(sort_key(order, *identify(item)), item) for item in items]
    if after is not None:
        start = position_key(order, after)
        keyed = [pair for pair in keyed if start < pair[0]]
    keyed.sort(key=lambda pair: pair[0])
    chosen = keyed if limit is None else keyed[:limit]
    return [item for _, item in chosen]


def arrange_records(
    records: Iterable[S], order: Sequence[Order], *, after: Position | None, limit: int | None
) -> list[S]:
    """``arrange`` for records (a driver's ``Record``s): their ``id`` and ``body`` are what
    the order reads."""
    return arrange(records, order, after=after, limit=limit, identify=_id_and_body)


def _id_and_body(record: Stored) -> tuple[str, Mapping[str, Any]]:
    return record.id, record.body
