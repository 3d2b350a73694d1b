"""The indexes ``ensure_index`` makes on CouchDB: JavaScript map views whose keys CouchDB's
collation orders exactly as the contract does (docs/contract.md, "Order"), and the plan
that turns a ``Query`` into key ranges of such a view.

Why a view of its own: CouchDB collates strings with ICU (``"a" < "B"``), in Mango and in
views alike, while the contract orders strings by code point. So no string goes into a
key. The map function (``ViewIndex.source``) emits one row per document, keyed

    [component(v1), ..., component(vn), component(_id)]

where ``component`` of a value is ``[rank]``, ``[4, sign, exponent, mantissa, remainder]``
for a number or ``[5, [code points...]]`` for a string (ranks as in ``asyncdb._evaluate``:
missing 0, null 1, false 2, true 3, numbers 4, strings 5, lists 6, maps 7). CouchDB (and
PouchDB) compare arrays element by element, a shorter prefix first, and numbers by
value, so a list of code points orders strings by code point and ``"a"`` before
``"a\u0000"``.

A number is the double nearest it, split into non-negative integers (negative numbers
complemented), then ``remainder``: the exact ``n - double`` of an integer beyond 2**53
(stored by ``_codec`` as its decimal string, listed in ``MARKER["i"]``), offset by 2048.
Two values with the same double are ordered by it, so 64-bit integers order exactly
against each other and against floats although the view server has only doubles. Keys
hold integers only, every one below 2**53: pouchdb-server keeps view keys as text and
reads negative and fractional numbers back inexactly (two close ones could tie), and no
integer and float of equal value ever meet in Erlang's comparison on CouchDB.

A component of a descending field is complemented: rank ``8 - rank``, each number part
``max - part``, a string ``[3, [0x110000 - c1, ..., 0x110000 - cn, 0x110001]]`` (the last
element makes a prefix sort after the longer string). A query whose order is the index's,
or its exact reverse (``descending=true``), reads the view in order; equality fixes a
prefix of the key and one range bounds the next component. Bounds are never real keys
(a real component has a fixed length), so every range is inclusive: ``>= X`` starts at
``X``, ``> X`` at ``X + [{}]``.

The map function is plain ES5 (``var``, no ``codePointAt``) so that it runs in CouchDB's
SpiderMonkey or QuickJS and in pouchdb-server, and it reads a document as ``_codec`` and
``_ids`` decode it: the caller's id (escaped and digest keys), top-level keys ``~asyncdb``
escaped with one more ``~``, and big-integer strings only where a valid marker lists them.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from asyncdb._evaluate import resolve, value_rank
from asyncdb._query import Query
from asyncdb.drivers._keyplan import KeyLayout, SpanPlan, best, plan_spans

__all__ = [
    "DDOC_PREFIX",
    "VIEW",
    "ViewIndex",
    "ViewPlan",
    "ViewRange",
    "best_plan",
    "collate",
    "component",
    "same_key",
]

#: Bump when the map function or the key layout changes: the design document's name
#: changes with it, so an index of another layout is never read as this one.
LAYOUT: Final = 1
DDOC_PREFIX: Final = "_design/asyncdb-ix-"
VIEW: Final = "ix"
_NUMBER, _STRING = 4, 5
#: The number encoding's constants (the map function has them as literals).
_BIAS, _EXPONENTS, _MANTISSA, _REST, _POINTS = 1100, 2200, 2**52, 2048, 0x110000
_TOP: Final[dict[str, Any]] = {}  # {} collates after every array: the top of a range

_MAP_SOURCE: Final = """function (doc) {
  var C = %(components)s, IDD = %(id_descending)s;
  var ESC = "~asyncdb~", M = doc["~asyncdb"], id = doc._id, big = null, legacy = false;
  var SAFE = 9007199254740991, i;
  function isArr(v) { return Object.prototype.toString.call(v) === "[object Array]"; }
  function isMap(v) { return v !== null && typeof v === "object" && !isArr(v); }
  function paths(g) {
    var j;
    if (g === undefined || g === null) { return true; }
    if (!isArr(g)) { return false; }
    for (j = 0; j < g.length; j++) { if (!isArr(g[j]) || !g[j].length) { return false; } }
    return true;
  }
  function gen(rev) {
    var m = /^([0-9]+)(-|$)/.exec(typeof rev === "string" ? rev : "");
    return m ? Number(m[1]) : 0;
  }
  function marked(path) {
    var j, k, p;
    if (!big) { return false; }
    for (j = 0; j < big.length; j++) {
      p = big[j];
      if (!isArr(p) || p.length !== path.length) { continue; }
      for (k = 0; k < p.length && p[k] === path[k]; k++) {}
      if (k === p.length) { return true; }
    }
    return false;
  }
  function at(path) {
    var v = doc, j, key;
    for (j = 0; j < path.length; j++) {
      if (!isMap(v)) { return undefined; }
      key = path[j];
      if (j === 0 && /^~+asyncdb$/.test(key)) { key = "~" + key; }
      if (!Object.prototype.hasOwnProperty.call(v, key)) { return undefined; }
      v = v[key];
    }
    return v;
  }
  function bigNumber(s) {
    var m = /^(-?)0*([0-9]+)$/.exec(s), digits, d, hi, lo, r = 0;
    if (!m) { return null; }
    digits = m[2];
    d = Number(digits);
    if (digits.length > 15) {
      /* n = hi * 1e12 + lo; every step below is exact in doubles (hi < 2**24). */
      hi = Number(digits.substring(0, digits.length - 12));
      lo = Number(digits.substring(digits.length - 12));
      r = lo - (d - hi * 1e12);
    }
    if (legacy && d <= SAFE) { return null; }
    return m[1] ? [-d, -r] : [d, r];
  }
  function points(s, down) {
    var out = [], j, c, n;
    for (j = 0; j < s.length; j++) {
      c = s.charCodeAt(j);
      if (c >= 0xD800 && c <= 0xDBFF && j + 1 < s.length) {
        n = s.charCodeAt(j + 1);
        if (n >= 0xDC00 && n <= 0xDFFF) { c = (c - 0xD800) * 0x400 + (n - 0xDC00) + 0x10000; j++; }
      }
      out.push(down ? 0x110000 - c : c);
    }
    if (down) { out.push(0x110001); }
    return out;
  }
  function number(d, r, down) {
    /* sign, biased exponent, mantissa bits, remainder: non-negative integers only */
    var s = 1, e = 0, m = 0, x = d;
    if (x < 0) { s = 0; x = -x; }
    if (x > 0) {
      while (x >= 4294967296) { x /= 4294967296; e += 32; }
      while (x >= 2) { x /= 2; e += 1; }
      while (x < 2.3283064365386963e-10) { x *= 4294967296; e -= 32; }
      while (x < 1) { x *= 2; e -= 1; }
      e += 1100;
      m = (x - 1) * 4503599627370496;
      if (!s) { e = 2200 - e; m = 4503599627370496 - m; }
    }
    if (down) { return [4, 1 - s, 2200 - e, 4503599627370496 - m, 2048 - r]; }
    return [4, s, e, m, r + 2048];
  }
  function component(v, down, path) {
    var n, rank;
    if (v === undefined) { rank = 0; }
    else if (v === null) { rank = 1; }
    else if (v === false) { rank = 2; }
    else if (v === true) { rank = 3; }
    else if (typeof v === "number") { return number(v, 0, down); }
    else if (typeof v === "string") {
      n = path !== null && marked(path) ? bigNumber(v) : null;
      if (n) { return number(n[0], n[1], down); }
      return [down ? 3 : 5, points(v, down)];
    }
    else { rank = isArr(v) ? 6 : 7; }
    return [down ? 8 - rank : rank];
  }
  if (typeof id !== "string" || id.charAt(0) === "_") { return; }
  if (id.indexOf(ESC) === 0) {
    id = id.substring(ESC.length);
    if (/^#[0-9a-f]{64}$/.test(id)) {
      if (!isMap(M) || typeof M.id !== "string") { return; }
      id = M.id;
    } else if (id.charAt(0) !== "_" && id.indexOf(ESC) !== 0) { return; }
  }
  if (isMap(M)) {
    legacy = !M.hasOwnProperty("g") && !M.hasOwnProperty("h");
    if (legacy || (M.g === gen(doc._rev) && paths(M.f) && paths(M.i))) {
      big = isArr(M.i) ? M.i : null;
    }
  }
  var key = [];
  for (i = 0; i < C.length; i++) { key.push(component(at(C[i][0]), C[i][1], C[i][0])); }
  key.push(component(id, IDD, null));
  emit(key, null);
}"""


def _number(number: int | float, descending: bool) -> list[int]:
    """``[4, sign, exponent, mantissa, remainder]``: the double nearest ``number`` split
    into non-negative integers (negative numbers complemented, so that they order
    backwards by magnitude), then the exact remainder of an integer beyond 2**53. Only
    integers: pouchdb-server keeps view keys as text and reads negative or fractional
    numbers back inexactly, which could make two close values tie."""
    double = float(number)
    rest = number - int(double) if isinstance(number, int) else 0
    sign, exponent, mantissa = 1, 0, 0
    if double:
        fraction, power = math.frexp(abs(double))  # abs = fraction * 2**power, 0.5 <= f < 1
        exponent = power - 1 + _BIAS
        mantissa = int((fraction * 2 - 1) * _MANTISSA)
        if double < 0:
            sign, exponent, mantissa = 0, _EXPONENTS - exponent, _MANTISSA - mantissa
    if descending:
        return [4, 1 - sign, _EXPONENTS - exponent, _MANTISSA - mantissa, _REST - rest]
    return [4, sign, exponent, mantissa, rest + _REST]


def component(rank: tuple[Any, ...], descending: bool = False) -> list[Any]:
    """The key component of a value's rank tuple (``asyncdb._evaluate.value_rank``), as
    the map function emits it."""
    kind = rank[0]
    if kind == _NUMBER:
        return _number(rank[1], descending)
    if kind == _STRING:
        if descending:
            return [8 - _STRING, [*(_POINTS - ord(char) for char in rank[1]), _POINTS + 1]]
        return [_STRING, [ord(char) for char in rank[1]]]
    return [8 - kind if descending else kind]


def collate(left: Any, right: Any) -> int:
    """CouchDB's view collation for what keys here hold (numbers, arrays, ``{}``)."""
    kinds = (_kind(left), _kind(right))
    if kinds[0] != kinds[1]:
        return -1 if kinds[0] < kinds[1] else 1
    if kinds[0] == 2:
        return int(left > right) - int(left < right)
    if kinds[0] == 4:
        for a, b in zip(left, right, strict=False):
            found = collate(a, b)
            if found:
                return found
        return (len(left) > len(right)) - (len(left) < len(right))
    return 0


def _kind(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, bool):
        return 1
    if isinstance(value, int | float):
        return 2
    if isinstance(value, str):
        return 3
    return 4 if isinstance(value, list) else 5


def _canonical(value: Any) -> Any:
    if isinstance(value, list):
        return [_canonical(item) for item in value]
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return value


def same_key(left: Any, right: Any) -> bool:
    """Whether two keys are the same, whichever of the equal number forms they hold."""
    return bool(_canonical(left) == _canonical(right))


@dataclass(frozen=True, slots=True)
class ViewIndex(KeyLayout):
    """One view: a ``KeyLayout`` (the key's components, then ``_id``) and the map
    function that emits its keys."""

    @property
    def view_meta(self) -> dict[str, Any]:
        return {"layout": LAYOUT, **self.meta()}

    @property
    def source(self) -> str:
        # ensure_ascii: U+2028/U+2029 end a string literal in ES5 source.
        components = json.dumps(self.meta()["components"], ensure_ascii=True)
        return _MAP_SOURCE % {
            "components": components,
            "id_descending": "true" if self.id_descending else "false",
        }

    @property
    def ddoc_id(self) -> str:
        text = json.dumps([self.view_meta, self.source], ensure_ascii=True, sort_keys=True)
        return DDOC_PREFIX + hashlib.sha256(text.encode()).hexdigest()[:20]

    def key_of(self, doc_id: str, body: Mapping[str, Any]) -> list[Any]:
        """The key the map function emits for a document, as asyncdb reads it: the
        driver compares the two, so that a document the map function reads otherwise (one
        another program wrote, or changed since the view was built) is caught."""
        parts = [component(value_rank(resolve(body, path)), down) for path, down in self.components]
        return [*parts, component((_STRING, doc_id), self.id_descending)]

    def design(self) -> dict[str, Any]:
        """The design document (without ``_id``/``_rev``)."""
        return {
            "language": "javascript",
            "views": {VIEW: {"map": self.source}},
            "asyncdb": self.view_meta,
        }

    @classmethod
    def from_design(cls, doc_id: object, doc: object) -> ViewIndex | None:
        """The index a listed design document describes, if it is one of ours of this
        layout and unchanged (its id is the digest of what it holds)."""
        meta = doc.get("asyncdb") if isinstance(doc, Mapping) else None
        if not isinstance(meta, Mapping) or meta.get("layout") != LAYOUT:
            return None
        layout = KeyLayout.from_meta(meta)
        if layout is None:
            return None
        index = cls(layout.components, layout.id_descending)
        views = doc.get("views") if isinstance(doc, Mapping) else None
        view = views.get(VIEW) if isinstance(views, Mapping) else None
        if index.ddoc_id != doc_id or not isinstance(view, Mapping):
            return None
        return index if view.get("map") == index.source else None


@dataclass(frozen=True, slots=True)
class ViewRange:
    """One read of the view: keys from ``start`` to ``end`` (both inclusive, in the read's
    direction), less the row keyed ``skip`` (the position a page resumes after)."""

    start: list[Any]
    end: list[Any]
    skip: list[Any] | None = None


@dataclass(frozen=True, slots=True)
class ViewPlan:
    """How a query reads one view: its ranges, in which direction, and whether the
    ranges' rows must be merged into the query's order (several ``$in`` values)."""

    index: ViewIndex
    ranges: tuple[ViewRange, ...]
    descending: bool

    @property
    def merge(self) -> bool:
        return len(self.ranges) > 1


class _ViewKeys:
    """``KeyCodec`` of view keys (``asyncdb.drivers._keyplan``): lists, ``{}`` on top."""

    def component(self, rank: tuple[Any, ...], descending: bool) -> list[Any]:
        return component(rank, descending)

    def type_floor(self, kind: int, descending: bool) -> list[Any]:
        return [8 - kind if descending else kind]  # as ``component`` spells the rank

    def above(self, part: list[Any]) -> list[Any]:
        return [*part, _TOP]

    def top(self) -> Any:
        return _TOP

    def exact(self, part: list[Any]) -> bool:
        return True  # a view key holds every value whole

    def key(self, parts: Sequence[Any]) -> list[Any]:
        return list(parts)


_VIEW_KEYS: Final = _ViewKeys()


def best_plan(indexes: Iterable[ViewIndex], query: Query) -> ViewPlan | None:
    """The plan that narrows the read the most, of the views that serve ``query``."""
    spans: list[SpanPlan[Any, list[Any]]] = []
    for index in indexes:
        found = plan_spans(index, query, _VIEW_KEYS)
        if found is not None:
            spans.append(found)
    chosen = best(spans)
    if chosen is None:
        return None
    assert isinstance(chosen.layout, ViewIndex)
    descending = chosen.descending
    ranges: list[ViewRange] = []
    for span in chosen.spans:
        start, end, skip = (
            (span.high, span.low, None) if descending else (span.low, span.high, None)
        )
        if span.resume is not None:
            resume = list(span.resume)
            # The read goes on from the page's last row (dropped), unless the range
            # starts further on.
            if collate(resume, start) * (-1 if descending else 1) > 0:
                start, skip = resume, resume
        order = collate(start, end)
        if (order > 0 and not descending) or (order < 0 and descending):
            continue  # an empty range (CouchDB refuses a reversed one)
        ranges.append(ViewRange(start, end, skip))
    return ViewPlan(chosen.layout, tuple(ranges), descending)
