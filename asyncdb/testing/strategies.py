"""Hypothesis strategies for documents the contract accepts (and values it refuses)."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from asyncdb._documents import FLOAT_MAX_MAGNITUDE, FLOAT_MIN_MAGNITUDE, INT_MAX, INT_MIN, MAX_DEPTH

__all__ = ["document_ids", "documents", "json_values", "keys"]


def _portable_float(value: float) -> bool:
    return value == 0 or FLOAT_MIN_MAGNITUDE <= abs(value) < FLOAT_MAX_MAGNITUDE


_text = st.text(max_size=30)

#: Map keys: any string (``""`` and ``__x__`` included) of at most 1,500 UTF-8 bytes; the
#: special ones drivers must encode are drawn often.
keys = st.one_of(
    st.text(max_size=20),
    st.sampled_from(["", "__init__", "__x__", "__", "____", "__name__", "_", "~", "%2E", "."]),
    st.sampled_from(["k", "é", "_"]).map(lambda c: c * (1500 // len(c.encode("utf-8")))),
)
#: Top-level keys: only ``_id`` and ``_rev`` may start with ``_``.
_top_level_keys = keys.filter(lambda k: not k.startswith("_"))

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=INT_MIN, max_value=INT_MAX),
    st.floats(allow_nan=False, allow_infinity=False).filter(_portable_float),
    _text,
)

json_values: st.SearchStrategy[Any] = st.recursive(
    _scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.dictionaries(keys, children, max_size=5),
    ),
    max_leaves=25,
)


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


#: Whole documents (without ``_id`` / ``_rev``) within the contract's depth.
documents: st.SearchStrategy[dict[str, Any]] = st.dictionaries(
    _top_level_keys, json_values, max_size=8
).filter(lambda doc: _depth(doc) <= MAX_DEPTH)

_id_characters = st.characters(blacklist_categories=["Cs", "Cc"])

#: Pieces that drivers escape or that look like their escapes.
_id_fragments = st.sampled_from(
    ["_", "/", ".", "..", "__", "~", "%", "%2F", "%5F", "_design/", "_local/", "__x__", "\\"]
)


def _repeated_to(unit: str, size: int) -> str:
    """``unit`` repeated to at most ``size`` UTF-8 bytes (at least once)."""
    return unit * max(1, size // len(unit.encode("utf-8")))


#: Valid document ids: any valid-unicode string without control characters, 1 to 4,096
#: UTF-8 bytes; ids that some backend cannot hold natively (a leading ``_``, ``/``, ``.``,
#: ``..``, ``__x__``, beyond 1,500 or 2,048 bytes) are drawn often.
document_ids = st.one_of(
    st.text(alphabet=_id_characters, min_size=1, max_size=40),
    st.lists(
        st.one_of(_id_fragments, st.text(alphabet=_id_characters, min_size=1, max_size=6)),
        min_size=1,
        max_size=6,
    ).map("".join),
    st.builds(
        _repeated_to,
        st.sampled_from(["a", "é", "日", "😀", "/", "_", ".", "~"]),
        st.sampled_from([1500, 1501, 2048, 2049, 4095, 4096]),
    ),
)
