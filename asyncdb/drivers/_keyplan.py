"""What an index made by ``ensure_index`` is, on backends that keep ordered keys of their
own (CouchDB's views, Firestore's and DynamoDB's derived key attributes), and how a
``Query`` becomes ranges of those keys.

An index is a ``KeyLayout``: a list of components (a field path and a direction), then
``_id``. A document's key is one component per entry, each encoded so that the backend's
own order of keys is the contract's order of values (docs/contract.md, "Order"). How a
component is spelled is the backend's ``KeyCodec`` (lists of integers for CouchDB's
collation, bytes for Firestore and DynamoDB); what a query may ask of an index is the same
everywhere, and written here once:

- equality (``$eq``, ``$in``) fixes a leading part of the key (``$in``: one range per
  combination of values, merged afterwards in the query's order);
- one range (``$gt`` ... ``$lte``, type-bracketed as in the reference evaluator) may bound
  the next component;
- the rest of the key is the query's order, exactly or exactly reversed (an ``order_by``
  field that equality fixes may be left out); an unordered query must fix or bound the
  first component, so that an index is never a disguised scan.

Other conditions are checked on the rows the ranges read.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, Self, TypeVar

from asyncdb._evaluate import Position, value_rank
from asyncdb._query import EQUALITY_OPERATORS, RANGE_OPERATORS, Condition, FieldPath, Order, Query

__all__ = ["KeyCodec", "KeyLayout", "Span", "SpanPlan", "best", "plan_spans"]

Part = TypeVar("Part")
Key = TypeVar("Key")
KeyOut = TypeVar("KeyOut", covariant=True)
_NUMBER, _STRING = 4, 5


@dataclass(frozen=True, slots=True)
class KeyLayout:
    """An index: ``components`` (a path and whether it is descending), then ``_id``
    (descending when ``id_descending``)."""

    components: tuple[tuple[FieldPath, bool], ...]
    id_descending: bool = False

    @classmethod
    def for_index(cls, fields: Sequence[FieldPath], order_by: Sequence[Order]) -> Self:
        """The index ``ensure_index(fields, order_by=...)`` makes: the fields not in the
        order (as given, ascending), then the order, then ``_id`` in the direction of the
        last order field."""
        ordered = {o.path for o in order_by}
        leading = [(path, False) for path in dict.fromkeys(fields) if path not in ordered]
        trailing = [(o.path, o.descending) for o in order_by]
        return cls(tuple(leading + trailing), bool(order_by) and order_by[-1].descending)

    def meta(self) -> dict[str, Any]:
        """A JSON description, for a backend's registry of its indexes."""
        return {
            "components": [[list(path), descending] for path, descending in self.components],
            "id_descending": self.id_descending,
        }

    @classmethod
    def from_meta(cls, meta: object) -> KeyLayout | None:
        """The layout ``meta()`` described, or ``None`` if ``meta`` is not such a
        description (a registry entry another program wrote, or damaged)."""
        if not isinstance(meta, Mapping):
            return None
        raw, id_descending = meta.get("components"), meta.get("id_descending")
        if not isinstance(raw, list) or not raw or not isinstance(id_descending, bool):
            return None
        parts: list[tuple[FieldPath, bool]] = []
        for entry in raw:
            if not (isinstance(entry, list) and len(entry) == 2 and isinstance(entry[1], bool)):
                return None
            path, descending = entry
            if not (isinstance(path, list) and path and all(isinstance(p, str) for p in path)):
                return None
            parts.append((tuple(path), descending))
        return cls(tuple(parts), id_descending)

    @property
    def digest(self) -> str:
        """16 hex characters that name this layout (stable across processes/versions)."""
        text = json.dumps(self.meta(), ensure_ascii=True, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


class KeyCodec(Protocol[Part, KeyOut]):
    """How one backend spells keys: components (``Part``) and keys or bounds (``Key``)."""

    def component(self, rank: tuple[Any, ...], descending: bool) -> Part:
        """The component of a value's rank tuple (``asyncdb._evaluate.value_rank``)."""
        ...

    def type_floor(self, kind: int, descending: bool) -> Part:
        """A bound below every component of a value of rank ``kind`` (numbers, strings)."""
        ...

    def above(self, part: Part) -> Part:
        """A bound after every component that starts with ``part``."""
        ...

    def top(self) -> Part:
        """A bound after every component."""
        ...

    def exact(self, part: Part) -> bool:
        """Whether ``part`` is a whole value's component (not one cut to fit a size)."""
        ...

    def key(self, parts: Sequence[Part]) -> KeyOut:
        """The key (or bound) made of ``parts``."""
        ...


@dataclass(frozen=True, slots=True)
class Span(Generic[Part, Key]):
    """The keys one combination of equality values may have: from ``low`` to ``high``,
    both inclusive and neither a real key, ``fixed`` the components equality fixes.
    ``resume``: the parts of the key of the row a page ended on, when it lies in this span
    (the read goes on after it)."""

    low: Key
    high: Key
    fixed: tuple[Part, ...]
    resume: tuple[Part, ...] | None


@dataclass(frozen=True, slots=True)
class SpanPlan(Generic[Part, Key]):
    """How a query reads one index: its spans, in which direction."""

    layout: KeyLayout
    spans: tuple[Span[Part, Key], ...]
    descending: bool
    fixed: int  # how many leading components equality fixes
    bounded: bool  # whether a range bounds the next component

    @property
    def rank(self) -> tuple[int, int]:
        """Which plan narrows the read most (the larger, the better)."""
        return (self.fixed + self.bounded, -len(self.layout.components))


def plan_spans(
    layout: KeyLayout, query: Query, codec: KeyCodec[Part, Key], *, min_fixed: int = 0
) -> SpanPlan[Part, Key] | None:
    """The plan by which ``layout`` serves ``query``, or ``None`` if it does not. A layout
    whose first ``min_fixed`` components must be fixed (a partition key) serves only
    queries that fix them by equality."""
    by_path: dict[FieldPath, list[Condition]] = {}
    for condition in query.conditions:
        by_path.setdefault(condition.segments, []).append(condition)
    fixed: list[tuple[Any, ...]] = []  # the values each leading component may take
    for path, _ in layout.components:
        equal = [c for c in by_path.get(path, ()) if c.operator in EQUALITY_OPERATORS]
        if not equal:
            break
        fixed.append(equal[0].values)
    if len(fixed) < min_fixed:
        return None
    rest = layout.components[len(fixed) :]
    bounds = (
        [c for c in by_path.get(rest[0][0], ()) if c.operator in RANGE_OPERATORS] if rest else []
    )
    descending = False
    if query.ordered or query.after is not None:
        reversed_read = _direction(layout, query, fixed, rest)
        if reversed_read is None:
            return None
        descending = reversed_read
    elif not fixed and not bounds:
        return None  # nothing bounds the read: that would be a scan of the index
    if not fixed and not bounds and query.conditions:
        return None  # an ordered walk of the whole index, filtered: not what it is for
    spans: list[Span[Part, Key]] = []
    for values in itertools.product(*fixed):
        prefix = [
            codec.component(value_rank(v), down)
            for v, (_, down) in zip(values, layout.components, strict=False)
        ]
        low, high = _bounds(codec, prefix, rest[0][1] if rest else False, bounds)
        resume = None
        if query.after is not None:
            side = _side(layout, values, query, query.after)
            if side < 0:
                continue  # this $in value's rows all come before the position
            if side == 0:
                resume = _resume_parts(layout, prefix, query, query.after, codec)
        spans.append(Span(codec.key(low), codec.key(high), tuple(prefix), resume))
    return SpanPlan(layout, tuple(spans), descending, len(fixed), bool(bounds))


def _direction(
    layout: KeyLayout,
    query: Query,
    fixed: Sequence[tuple[Any, ...]],
    rest: Sequence[tuple[FieldPath, bool]],
) -> bool | None:
    """Whether an ordered query reads the index backwards (``None``: in neither direction
    does the index give the query's order)."""
    # An order field that equality fixes orders nothing within a range (and several $in
    # ranges are merged in the query's order): only the others must match.
    single = {
        path
        for (path, _), values in zip(layout.components, fixed, strict=False)
        if len(values) == 1
    }
    wanted = [(o.path, o.descending) for o in query.order_by if o.path not in single]
    leading = {path for path, _ in layout.components[: len(fixed)]}
    while wanted and wanted[0][0] in leading:
        del wanted[0]
    wanted.append((("_id",), bool(query.order_by) and query.order_by[-1].descending))
    have = [*rest, (("_id",), layout.id_descending)]
    flipped = [(path, not down) for path, down in have]
    if wanted == have:
        return False
    return True if wanted == flipped else None


def _bounds(
    codec: KeyCodec[Part, Key], prefix: list[Part], descending: bool, bounds: Sequence[Condition]
) -> tuple[list[Part], list[Part]]:
    """The parts of the lowest and highest key under ``prefix`` whose next component
    satisfies ``bounds`` (type-bracketed, as the reference evaluator's ranges are)."""
    if not bounds:
        return prefix, [*prefix, codec.top()]
    kind = _STRING if isinstance(bounds[0].values[0], str) else _NUMBER
    floor = codec.type_floor(kind, descending)
    low, high = floor, codec.above(floor)
    for condition in bounds:
        edge = codec.component(value_rank(condition.values[0]), descending)
        # A cut edge stands for every value it begins: its rows may lie on either side.
        inclusive = condition.operator in ("$gte", "$lte") or not codec.exact(edge)
        # A descending component is negated: a lower bound on the value is an upper one
        # on the key.
        if (condition.operator in ("$gt", "$gte")) != descending:
            low = edge if inclusive else codec.above(edge)
        else:
            high = codec.above(edge) if inclusive else edge
    return [*prefix, low], [*prefix, high]


def _side(layout: KeyLayout, values: Sequence[Any], query: Query, after: Position) -> int:
    """Where the rows of one ``$in`` value stand against the position a page ended on,
    when the query orders by the ``$in`` field first: all before it (-1), all after it
    (1), or around it (0: the read resumes at the position)."""
    ranks = {
        o.path: (rank, o.descending) for o, rank in zip(query.order_by, after.keys, strict=True)
    }
    for (path, _), value in zip(layout.components, values, strict=False):
        if path not in ranks:
            continue
        mine, (theirs, down) = value_rank(value), ranks[path]
        if mine != theirs:
            return 1 if (mine > theirs) != down else -1
    return 0


def _resume_parts(
    layout: KeyLayout,
    prefix: list[Part],
    query: Query,
    after: Position,
    codec: KeyCodec[Part, Key],
) -> tuple[Part, ...]:
    """The parts of the key of the row a page ended on, under one equality prefix (the
    position holds a rank for each field of the query's order, which covers the
    components after the prefix)."""
    ranks = {o.path: rank for o, rank in zip(query.order_by, after.keys, strict=True)}
    rest = layout.components[len(prefix) :]
    parts = [codec.component(ranks[path], down) for path, down in rest]
    return (*prefix, *parts, codec.component((_STRING, after.id), layout.id_descending))


def best(plans: Iterable[SpanPlan[Part, Key] | None]) -> SpanPlan[Part, Key] | None:
    """The plan that narrows the read the most (ties: the first layout by digest)."""
    found = [plan for plan in plans if plan is not None]
    return max(found, key=lambda p: (*p.rank, p.layout.digest), default=None)
