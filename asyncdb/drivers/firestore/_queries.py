"""``StructuredQuery`` protobufs for scans and ``find``, ordered by document id.

Every query orders by ``__name__`` (the document id within one collection) and resumes
with ``start_at {before: false}`` on the last id seen: a cursor on a *value*, not on a
stored document, so a scan resumes correctly even after that document was deleted.
``find`` sends its conditions as ``==`` / ``IN`` / ``IS NULL`` filters; Firestore compares
them type-strictly like the contract (``1 == 1.0``, ``true != 1``), and the driver checks
every answer again with ``Query.matches`` anyway.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Final

from google.cloud.firestore_v1 import types

from asyncdb.drivers.firestore._codec import encode_value
from asyncdb.query import Condition, Query

__all__ = ["build_query", "field_path"]

_StructuredQuery: Final[Any] = types.StructuredQuery.pb()
_ASCENDING: Final = types.StructuredQuery.Direction.ASCENDING
_EQUAL: Final = types.StructuredQuery.FieldFilter.Operator.EQUAL
_IN: Final = types.StructuredQuery.FieldFilter.Operator.IN
_IS_NULL: Final = types.StructuredQuery.UnaryFilter.Operator.IS_NULL
_AND: Final = types.StructuredQuery.CompositeFilter.Operator.AND
_SIMPLE_FIELD: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def field_path(name: str) -> str:
    """A top-level field name as a Firestore field path (quoted unless simple)."""
    if _SIMPLE_FIELD.fullmatch(name):
        return name
    escaped = name.replace("\\", "\\\\").replace("`", "\\`")
    return f"`{escaped}`"


def build_query(
    documents_path: str,
    collection: str,
    *,
    after: str | None,
    limit: int,
    query: Query | None = None,
    keys_only: bool = False,
) -> Any:
    """A raw ``StructuredQuery``: ``collection`` by id after ``after``, at most ``limit``."""
    structured = _StructuredQuery()
    structured.from_.add().collection_id = collection
    order = structured.order_by.add()
    order.field.field_path = "__name__"
    order.direction = _ASCENDING
    if after is not None:
        structured.start_at.values.add().reference_value = f"{documents_path}/{collection}/{after}"
        structured.start_at.before = False
    structured.limit.value = limit
    if keys_only:
        structured.select.SetInParent()  # an empty projection returns names only
    if query is not None:
        _add_conditions(structured, query.conditions)
        if query.fields is not None:
            # The re-check needs the condition fields, the caller the projected ones.
            wanted = dict.fromkeys([*query.fields, *(c.field for c in query.conditions)])
            _select(structured, wanted)
    return structured


def _select(structured: Any, names: Iterable[str]) -> None:
    structured.select.SetInParent()
    for name in names:
        structured.select.fields.add().field_path = field_path(name)


def _add_conditions(structured: Any, conditions: Iterable[Condition]) -> None:
    filters = [condition for condition in conditions if _server_side(condition)]
    if not filters:
        return
    if len(filters) == 1:
        _fill_filter(structured.where, filters[0])
        return
    composite = structured.where.composite_filter
    composite.op = _AND
    for condition in filters:
        _fill_filter(composite.filters.add(), condition)


def _server_side(condition: Condition) -> bool:
    # ``IN`` cannot hold null in Firestore: such a condition is only checked client-side.
    return len(condition.values) == 1 or all(value is not None for value in condition.values)


def _fill_filter(target: Any, condition: Condition) -> None:
    path = field_path(condition.field)
    if len(condition.values) == 1:
        (value,) = condition.values
        if value is None:
            target.unary_filter.field.field_path = path
            target.unary_filter.op = _IS_NULL
            return
        field_filter = target.field_filter
        field_filter.field.field_path = path
        field_filter.op = _EQUAL
        encode_value(value, field_filter.value, in_array=False)
        return
    field_filter = target.field_filter
    field_filter.field.field_path = path
    field_filter.op = _IN
    encode_value(list(condition.values), field_filter.value, in_array=False)
