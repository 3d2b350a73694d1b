"""The walk's fast paths (a container's keys and strings checked at once) against the
per-item walk they shortcut: the same copy, the same measure, the same refusal with the
same path, for valid and invalid documents alike; and never an alias of the input."""

from __future__ import annotations

import math
from typing import Any

from hypothesis import event, given, settings
from hypothesis import strategies as st

from asyncdb._walk import (
    INT_MAX,
    INT_MIN,
    MAX_DEPTH,
    MAX_FIELDS,
    MAX_KEY_BYTES,
    _Refusal,
    _Walker,
)


class _PerItem(_Walker):
    """The reference: every container goes through the per-item walk."""

    def map(self, value: Any, depth: int) -> dict[str, Any]:
        if depth > MAX_DEPTH:
            raise _Refusal(f"nested deeper than {MAX_DEPTH} levels")
        self.fields += len(value)
        if self.fields > MAX_FIELDS:
            raise _Refusal(f"more than {MAX_FIELDS} fields")
        return self.map_items(value, depth)

    def list(self, value: Any, depth: int) -> list[Any]:
        if depth > MAX_DEPTH:
            raise _Refusal(f"nested deeper than {MAX_DEPTH} levels")
        return self.list_items(value, depth)


def _outcome(walker: _Walker, doc: dict[Any, Any]) -> tuple[str, object, int, int]:
    try:
        copy = walker.map(doc, 0)
    except _Refusal as refusal:
        return ("refused", (refusal.reason, refusal.path), 0, 0)
    # repr tells -0.0 from 0.0, True from 1 and 1.0 from 1: the copies must be identical.
    return ("copied", repr(copy), walker.size, walker.fields)


_awkward_text = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["", "é", "日本", "\ud800", "a\udfff", "_x", "\x00_", "k" * MAX_KEY_BYTES]),
    st.just("k" * (MAX_KEY_BYTES + 1)),
    st.just("é" * (MAX_KEY_BYTES // 2 + 1)),
)
_plain_text = st.text(alphabet="abcxyz_-", max_size=8)
# Mostly plain keys and valid values, so that most documents pass and the copies and
# measures are compared, not only the refusals.
_awkward_keys = st.one_of(*[_plain_text] * 8, _awkward_text, st.integers(-3, 3), st.none())
_valid_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=INT_MIN, max_value=INT_MAX),
    st.floats(min_value=1e-100, max_value=1e100),
    _plain_text,
    st.text(max_size=8),
)
_scalars = st.one_of(
    *[_valid_scalars] * 12,
    st.none(),
    st.booleans(),
    st.integers(min_value=INT_MIN, max_value=INT_MAX),
    st.sampled_from([INT_MIN - 1, INT_MAX + 1, 2**70]),
    st.floats(),  # NaN, infinities, -0.0, subnormals, out-of-range magnitudes included
    st.sampled_from([1e-131, 1e-130, 1e126, 9.99e125, -0.0, 0.0, math.inf]),
    _awkward_text,
    st.sampled_from([b"bytes", {1, 2}, (1, "a")]),
)
_values = st.recursive(
    _scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=8),
        st.lists(st.integers(INT_MIN, INT_MAX), min_size=4, max_size=8),
        st.lists(st.integers(INT_MIN - 1, INT_MAX + 1), min_size=4, max_size=8),
        st.lists(st.floats(min_value=-1e100, max_value=1e100), min_size=4, max_size=8),
        st.lists(st.floats(), min_size=4, max_size=8),
        st.lists(_plain_text, min_size=4, max_size=8),
        st.lists(_awkward_text, min_size=4, max_size=8),
        st.dictionaries(_plain_text, children, min_size=4, max_size=8),
        st.dictionaries(_awkward_keys, children, max_size=8),
    ),
    max_leaves=40,
)
_documents = st.one_of(
    st.dictionaries(_plain_text, _values, min_size=4, max_size=10),
    st.dictionaries(_awkward_keys, _values, max_size=10),
)


@settings(max_examples=150, deadline=None)
@given(_documents)
def test_the_fast_walk_equals_the_per_item_walk(doc: dict[Any, Any]) -> None:
    outcome = _outcome(_Walker(), doc)
    assert outcome == _outcome(_PerItem(), doc)
    event(outcome[0])


def _containers(value: object, found: set[int]) -> set[int]:
    if isinstance(value, dict | list):
        found.add(id(value))
        for item in value.values() if isinstance(value, dict) else value:
            _containers(item, found)
    return found


@settings(max_examples=100, deadline=None)
@given(_documents)
def test_the_copy_shares_no_container_with_the_input(doc: dict[Any, Any]) -> None:
    try:
        copy = _Walker().map(doc, 0)
    except _Refusal:
        return
    assert _containers(copy, set()).isdisjoint(_containers(doc, set()))


def test_a_shared_list_is_copied_once_per_place() -> None:
    tags = ["a", "b", "c", "d", "e"]
    copy = _Walker().map({"one": tags, "two": tags, "three": [tags], "four": 1}, 0)
    assert copy["one"] is not copy["two"]
    copy["one"].append("x")
    assert copy["two"] == tags == ["a", "b", "c", "d", "e"]


def test_the_fields_limit_counts_every_map_on_the_fast_path() -> None:
    wide = {f"k{i}": i for i in range(MAX_FIELDS // 2)}
    doc = {"a": wide, "b": dict(wide), "c": 1, "d": 2}
    refused = _outcome(_Walker(), doc)
    assert refused == ("refused", (f"more than {MAX_FIELDS} fields", ["b"]), 0, 0)
    assert refused == _outcome(_PerItem(), doc)
