"""A ``find`` query as a Scan ``FilterExpression``.

Every field name and value goes through a placeholder (``#f0``, ``:v0_0``): DynamoDB has
hundreds of reserved words and field names may hold dots or spaces. The filter is a
superset of the answer, never a subset: the driver re-checks each item with
``Query.matches``, so the filter only has to be sure not to drop a match.

Numbers need care because of the float encoding (see ``_codec``): an integral float is a
plain ``N``, but items written before the float marker hold it as the number set
``{1.0}``, so a numeric value also matches that one-element set when the value is
exactly a double. Projection is the face's: the driver reads whole items, since the float
marker applies only to an item's complete values.

A value no stored document can equal (an integer past 64 bits that is no double, a float
outside DynamoDB's range) is left out rather than sent, since DynamoDB refuses such
numbers; a condition left with no value matches nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from asyncdb._documents import FLOAT_MAX_MAGNITUDE, FLOAT_MIN_MAGNITUDE, INT_MAX, INT_MIN
from asyncdb._query import Query, Scalar
from asyncdb.drivers.dynamodb._codec import EMPTY_KEY_ATTRIBUTE

__all__ = ["ScanFilter", "build_filter"]


@dataclass(slots=True)
class ScanFilter:
    """Scan parameters for a query; ``impossible`` when no stored document can match."""

    params: dict[str, Any] = field(default_factory=dict)
    impossible: bool = False


def _storable_float(value: float) -> bool:
    magnitude = abs(value)
    return magnitude == 0.0 or FLOAT_MIN_MAGNITUDE <= magnitude < FLOAT_MAX_MAGNITUDE


def _candidates(value: Scalar) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(plain attribute values, number-set values) that a stored match could have."""
    if value is None:
        return [{"NULL": True}], []
    if isinstance(value, bool):
        return [{"BOOL": value}], []
    if isinstance(value, str):
        return [{"S": value}], []
    plain: list[dict[str, Any]] = []
    tagged: list[dict[str, Any]] = []
    if isinstance(value, int) and INT_MIN <= value <= INT_MAX:
        plain.append({"N": str(value)})
    try:
        as_float = float(value)
    except OverflowError:  # an integer beyond every double: no stored float equals it
        return plain, tagged
    if as_float == value and _storable_float(as_float):
        if isinstance(value, float) or not plain:
            plain.append({"N": repr(as_float)})  # a stored int or a stored float equal to it
        if as_float.is_integer():
            tagged.append({"NS": [repr(as_float)]})
    return plain, tagged


def build_filter(query: Query) -> ScanFilter:
    """Scan parameters (``FilterExpression`` and friends) for ``query``."""
    names: dict[str, str] = {}
    values: dict[str, dict[str, Any]] = {}
    clauses: list[str] = []
    for index, condition in enumerate(query.conditions):
        name = f"#f{index}"
        # The top-level empty key is stored under its own attribute name (``_codec``).
        names[name] = condition.field or EMPTY_KEY_ATTRIBUTE
        plain: list[dict[str, Any]] = []
        tagged: list[dict[str, Any]] = []
        for wanted in condition.values:
            more_plain, more_tagged = _candidates(wanted)
            plain.extend(v for v in more_plain if v not in plain)
            tagged.extend(v for v in more_tagged if v not in tagged)
        if not plain and not tagged:
            return ScanFilter(impossible=True)
        alternatives: list[str] = []
        plain_names = []
        for number, value in enumerate(plain):
            plain_names.append(f":v{index}_{number}")
            values[plain_names[-1]] = value
        if len(plain_names) == 1:
            alternatives.append(f"{name} = {plain_names[0]}")
        elif plain_names:
            alternatives.append(f"{name} IN ({', '.join(plain_names)})")
        for number, value in enumerate(tagged):
            # Sets cannot be operands of IN: each one gets its own equality.
            values[f":s{index}_{number}"] = value
            alternatives.append(f"{name} = :s{index}_{number}")
        clause = " OR ".join(alternatives)
        clauses.append(f"({clause})" if len(alternatives) > 1 else clause)
    params: dict[str, Any] = {}
    if clauses:
        params["FilterExpression"] = " AND ".join(clauses)
    if names:
        params["ExpressionAttributeNames"] = names
    if values:
        params["ExpressionAttributeValues"] = values
    return ScanFilter(params)
