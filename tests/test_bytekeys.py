"""The bytes index keys of Firestore and DynamoDB (``asyncdb.drivers._bytekeys``): their
order is the contract's, and a plan read through them gives the reference evaluator's
answer, pages and all, also when long strings are cut to fit a key."""

from __future__ import annotations

import bisect
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from asyncdb._evaluate import MISSING, arrange_records, position_of, value_rank
from asyncdb._query import parse_order, parse_query
from asyncdb.drivers._bytekeys import (
    ByteRange,
    StaleKey,
    best_plan,
    encode_key,
    encode_parts,
    read_plan,
)
from asyncdb.drivers._keyplan import KeyLayout
from asyncdb.drivers.base import Record

_strings = st.one_of(
    st.sampled_from(["", "a", "B", "a\x00", "a\x01", "é", "\ud800", "日本", "😀", "ab"]),
    st.text(st.sampled_from("ab\x00\x01é😀"), max_size=40),
)
_numbers = st.one_of(
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([2**53 + 1, 2**63 - 1, -(2**63), 9.223372036854775e18, 0.0, -0.0]),
)
_values = st.one_of(
    _numbers, _strings, st.sampled_from([None, True, False, [1], {"k": 1}, MISSING])
)


def _rank_order(left: Any, right: Any) -> int:
    a, b = value_rank(left), value_rank(right)
    return (a > b) - (a < b)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(_values, _values, st.booleans(), st.sampled_from([64, 4096]))
def test_bytes_order_is_the_contract_order(left: Any, right: Any, down: bool, budget: int) -> None:
    layout = KeyLayout(((("v",), down),))
    body_of = {
        "l": {} if left is MISSING else {"v": left},
        "r": {} if right is MISSING else {"v": right},
    }
    (key_l, _), (key_r, _) = (
        encode_parts(layout, "id", body_of[side], budget=budget) for side in ("l", "r")
    )
    expected = _rank_order(left, right) * (-1 if down else 1)
    assert b"\xff" not in key_l + key_r
    actual = (key_l > key_r) - (key_l < key_r)
    if actual != expected:
        # Only a value cut to fit may tie with another: never the other way round.
        assert (
            actual == 0
            and len(key_l) == len(key_r)
            and key_l.endswith(b"\x00\x02" if not down else b"\xfe\xfc")
        ), (left, right, key_l, key_r)


def test_a_long_key_stays_within_its_budget() -> None:
    layout = KeyLayout(((("a",), False), (("b",), True)))
    key = encode_key(layout, "i" * 5000, {"a": "x" * 5000, "b": "é" * 5000}, budget=1024)
    assert len(key) <= 1024


class _Index:
    """A stand-in backend: rows sorted by key, read in pages of three."""

    def __init__(self, layout: KeyLayout, docs: Sequence[dict[str, Any]], budget: int) -> None:
        self.rows = sorted(
            (encode_key(layout, d["_id"], d, budget=budget), Record(d["_id"], "1-x", d))
            for d in docs
        )
        self.reads = 0

    async def read(
        self, span: ByteRange, descending: bool
    ) -> AsyncIterator[Sequence[tuple[bytes, Record]]]:
        keys = [key for key, _ in self.rows]
        inside = self.rows[
            bisect.bisect_left(keys, span.low) : bisect.bisect_right(keys, span.high)
        ]
        if descending:
            inside.reverse()
        for start in range(0, len(inside), 3):
            self.reads += 1
            yield inside[start : start + 3]


_docs = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            "g": st.sampled_from(["x", "y", "z"]),
            "n": st.one_of(st.integers(-5, 5), st.sampled_from([0.5, -2.5, None, "s"])),
            "s": st.sampled_from(
                ["a", "B", "é", "", "😀", "p" * 30 + "a", "p" * 30 + "b", "p" * 31]
            ),
        },
    ),
    max_size=25,
)
_shapes = st.sampled_from(
    [
        (["g"], ["-n"], {"g": "x"}),
        (["g"], ["s"], {"g": {"$in": ["x", "z"]}}),
        (["g"], ["s"], {"g": "y", "s": {"$gt": "p" * 30}}),
        (["g", "s"], [], {"g": "x", "s": {"$lte": "p" * 30 + "a"}}),
        (["s"], ["-s"], {"s": {"$gte": "B"}}),
        (["g"], ["n", "-s"], {"g": {"$in": ["y", "x"]}, "n": {"$ne": 0}}),
        (["n"], [], {"n": {"$gt": -1, "$lt": 4}}),
    ]
)


_LONG_A, _LONG_B = "p" * 30 + "a", "p" * 30 + "b"  # cut to the same prefix in a key


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(_docs, _shapes, st.integers(1, 4))
@example(  # a tie on a cut prefix is put in exact order, whatever the ids say
    [{"g": "x", "s": _LONG_B}, {"g": "x", "s": _LONG_A}], (["g"], ["s"], {"g": "x"}), 1
)
@example(  # an inclusive bound on a cut value includes the whole tie
    [{"g": "x", "s": _LONG_A}, {"g": "x", "s": _LONG_B}],
    (["g", "s"], [], {"g": "x", "s": {"$lte": _LONG_A}}),
    1,
)
@example(  # an exclusive one too: the tie's rows may lie on either side of it
    [{"g": "x", "s": _LONG_A}, {"g": "x", "s": _LONG_B}],
    (["g"], ["s"], {"g": "x", "s": {"$gt": _LONG_A}}),
    2,
)
async def test_a_plan_read_gives_the_reference_answer(
    bodies: list[dict[str, Any]], shape: Any, limit: int
) -> None:
    fields, order, where = shape
    docs = [{"_id": f"d{i:02}", **body} for i, body in enumerate(bodies)]
    layout = KeyLayout.for_index([(f,) for f in fields], parse_order(order))
    index = _Index(layout, docs, budget=64)
    query = parse_query(where, None, order or None)
    records = [Record(d["_id"], "1-x", d) for d in docs if query.matches(d)]
    reference = [r.id for r in arrange_records(records, query.order_by, after=None, limit=None)]
    if not order:  # unordered: one read, in the index's order
        plan = best_plan([layout], query, budget=64)
        assert plan is not None
        found = await read_plan(plan, query, None, index.read, budget=64)
        assert sorted(r.id for r in found) == reference
        return
    # find_page walks the whole answer, a page at a time, each from its position.
    walked: list[str] = []
    after = None
    for _ in range(40):
        paged = replace(query, ordered=True, after=after)
        plan = best_plan([layout], paged, budget=64)
        assert plan is not None
        page = await read_plan(plan, paged, limit, index.read, budget=64)
        walked.extend(r.id for r in page)
        if len(page) < limit:
            break
        after = position_of(query.order_by, page[-1].id, page[-1].body)
    assert walked == reference


async def test_a_row_whose_stored_key_is_not_its_documents_is_stale() -> None:
    layout = KeyLayout.for_index([("g",)], parse_order(["n"]))
    index = _Index(layout, [{"_id": "a", "g": "x", "n": 1}], budget=256)
    index.rows[0][1].body["n"] = 2  # changed by a writer that did not keep the key
    query = parse_query({"g": "x"}, None, ["n"])
    plan = best_plan([layout], query, budget=256)
    assert plan is not None
    with pytest.raises(StaleKey):
        await read_plan(plan, query, None, index.read, budget=256)


def test_layouts_that_do_not_serve_a_query_make_no_plan() -> None:
    layout = KeyLayout.for_index([("g",)], parse_order(["n"]))
    assert best_plan([layout], parse_query({"n": 1}, None, ["g"]), budget=256) is None
    assert best_plan([layout], parse_query({}, None, None), budget=256) is None
    assert (
        best_plan([layout], parse_query({"g": "x"}, None, None), budget=256, min_fixed=lambda _: 2)
        is None
    )


def test_a_layout_survives_its_registry_entry() -> None:
    layout = KeyLayout.for_index([("owner", "id"), ("g",)], parse_order(["-n"]))
    assert KeyLayout.from_meta(layout.meta()) == layout
    assert len(layout.digest) == 16
    for damaged in (
        None,
        {},
        {"components": [], "id_descending": False},
        {"components": [[["a"], 1]], "id_descending": False},
    ):
        assert KeyLayout.from_meta(damaged) is None
