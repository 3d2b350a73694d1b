"""Hypothesis strategies for documents the contract accepts (and values it refuses)."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from asyncdb.documents import FLOAT_MAX_MAGNITUDE, FLOAT_MIN_MAGNITUDE, INT_MAX, INT_MIN, MAX_DEPTH

__all__ = ["document_ids", "documents", "json_values", "keys"]


def _portable_float(value: float) -> bool:
    return value == 0 or FLOAT_MIN_MAGNITUDE <= abs(value) < FLOAT_MAX_MAGNITUDE


_text = st.text(max_size=30)

#: Map keys: non-empty, not of Firestore's reserved form ``__x__``.
keys = st.text(min_size=1, max_size=20).filter(
    lambda k: not (len(k) >= 4 and k.startswith("__") and k.endswith("__"))
)
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

#: Valid document ids: printable, no '/', no leading '_', not '.' or '..'.
document_ids = st.text(
    alphabet=st.characters(blacklist_categories=["Cs", "Cc"], blacklist_characters="/"),
    min_size=1,
    max_size=40,
).filter(lambda s: not s.startswith("_") and s not in {".", ".."})
