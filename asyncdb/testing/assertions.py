"""Type-strict JSON comparison: ``1`` is not ``1.0`` and ``True`` is not ``1`` here,
because a document must come back with exactly the types it was saved with."""

from __future__ import annotations

from typing import Any

__all__ = ["assert_same_json", "same_json"]


def same_json(left: Any, right: Any) -> bool:
    """Whether two JSON values are equal with identical types at every position."""
    if type(left) is not type(right):
        return False
    if isinstance(left, dict):
        return left.keys() == right.keys() and all(same_json(left[k], right[k]) for k in left)
    if isinstance(left, list):
        return len(left) == len(right) and all(
            same_json(a, b) for a, b in zip(left, right, strict=True)
        )
    return bool(left == right)


def assert_same_json(actual: Any, expected: Any) -> None:
    """Assert ``same_json``, showing both values on failure."""
    assert same_json(actual, expected), (
        f"documents differ:\n actual:   {actual!r}\n expected: {expected!r}"
    )
