"""``StructuredQuery`` protobufs for scans and ``find``, ordered by document id, and for
the key ranges of an index (``key_range_query``); ``run_query`` sends one.

Every query orders by ``__name__`` (the document id within one collection) and resumes
with ``start_at {before: false}`` on the last id seen: a cursor on a *value*, not on a
stored document, so a scan resumes correctly even after that document was deleted.
``find`` sends its conditions as ``==`` / ``IN`` / ``IS NULL`` filters on the stored
(escaped) field names; Firestore compares them type-strictly like the contract
(``1 == 1.0``, ``true != 1``), and the driver checks every answer again with
``Query.matches`` anyway. A condition Firestore cannot be asked (a value it cannot hold or
a string of 1,500 bytes or more, ``IN`` with null, a 1,500-byte field path, a key kept in
``_asyncdb_fields``) is left to that re-check alone, so such a ``find`` is slower but never
wrong or refused.

An index read (``key_range_query``) is one range on one bytes field, ordered by it (and by
``__name__``, which Firestore adds to every order anyway): Firestore's automatic
single-field index serves it, so it needs no composite index. It resumes with
``start_at {before: false}`` on the last row's key and name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Final

from google.cloud.firestore_v1 import types

from asyncdb._query import Condition, Query
from asyncdb.drivers._bytekeys import ByteRange
from asyncdb.drivers.firestore._codec import OVERFLOW_FIELD, encode_value, field_name
from asyncdb.drivers.firestore._ids import MAX_KEY_BYTES, ORIGINAL_ID_FIELD
from asyncdb.drivers.firestore._transport import Connection, Transport

__all__ = ["build_query", "field_path", "key_range_query", "run_query"]

_StructuredQuery: Final[Any] = types.StructuredQuery.pb()
_RunQueryRequest: Final[Any] = types.RunQueryRequest.pb()
_ASCENDING: Final = types.StructuredQuery.Direction.ASCENDING
_DESCENDING: Final = types.StructuredQuery.Direction.DESCENDING
_AT_LEAST: Final = types.StructuredQuery.FieldFilter.Operator.GREATER_THAN_OR_EQUAL
_AT_MOST: Final = types.StructuredQuery.FieldFilter.Operator.LESS_THAN_OR_EQUAL
_EQUAL: Final = types.StructuredQuery.FieldFilter.Operator.EQUAL
_IN: Final = types.StructuredQuery.FieldFilter.Operator.IN
_IS_NULL: Final = types.StructuredQuery.UnaryFilter.Operator.IS_NULL
_AND: Final = types.StructuredQuery.CompositeFilter.Operator.AND
_SIMPLE_FIELD: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_INT64: Final = range(-(2**63), 2**63)


def field_path(name: str) -> str:
    """A stored top-level field name as a Firestore field path (quoted unless simple)."""
    if _SIMPLE_FIELD.fullmatch(name):
        return name
    escaped = name.replace("\\", "\\\\").replace("`", "\\`")
    return f"`{escaped}`"


def _path_of(key: str) -> str | None:
    """The field path of a caller's top-level key, or ``None`` if Firestore cannot be
    asked about it: no field name fits, or the name is 1,500 bytes long (Firestore's
    emulator refuses a query path of 1,500 bytes although it stores such a field)."""
    name = field_name(key)
    if name is None or len(name.encode("utf-8")) >= MAX_KEY_BYTES:
        return None
    return field_path(name)


def _sendable(value: object) -> bool:
    """Whether Firestore takes ``value`` in a filter: it holds no int beyond 64 bits and no
    lone surrogate, and refuses a query string of 1,500 bytes or more (it compares only a
    string's first 1,500 bytes anyway)."""
    if type(value) is int:
        return value in _INT64
    if type(value) is str:
        try:
            return len(value.encode("utf-8")) < MAX_KEY_BYTES
        except UnicodeEncodeError:  # a lone surrogate
            return False
    return True


def build_query(
    documents_path: str,
    collection: str,
    *,
    after: str | None,
    limit: int,
    query: Query | None = None,
    keys_only: bool = False,
) -> Any:
    """A raw ``StructuredQuery``: ``collection`` by stored id after the stored id
    ``after``, at most ``limit``."""
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


def _select(structured: Any, keys: Iterable[str]) -> None:
    paths = [_path_of(key) for key in keys]
    if None in paths:
        return  # no projection on the server: the face projects what comes back
    structured.select.SetInParent()
    # The caller's id of a digest key, and keys too long for a field name, live here.
    for path in (*paths, ORIGINAL_ID_FIELD, OVERFLOW_FIELD):
        structured.select.fields.add().field_path = str(path)


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
    if _path_of(condition.field) is None or not all(map(_sendable, condition.values)):
        return False
    # ``IN`` cannot hold null in Firestore: such a condition is only checked client-side.
    return len(condition.values) == 1 or all(value is not None for value in condition.values)


def _fill_filter(target: Any, condition: Condition) -> None:
    path = _path_of(condition.field)
    assert path is not None  # _server_side() sends only conditions with a path
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


def key_range_query(
    documents_path: str,
    collection: str,
    field: str,
    span: ByteRange,
    *,
    descending: bool,
    after: tuple[bytes, str] | None,
    limit: int,
) -> Any:
    """A raw ``StructuredQuery``: the documents of ``collection`` whose bytes ``field`` lies
    in ``span`` (both ends inclusive), in key order (high to low when ``descending``), after
    the row ``after`` (its key and full document name), at most ``limit``."""
    structured = _StructuredQuery()
    structured.from_.add().collection_id = collection
    composite = structured.where.composite_filter
    composite.op = _AND
    for operator, bound in ((_AT_LEAST, span.low), (_AT_MOST, span.high)):
        field_filter = composite.filters.add().field_filter
        field_filter.field.field_path = field
        field_filter.op = operator
        field_filter.value.bytes_value = bound
    direction = _DESCENDING if descending else _ASCENDING
    for path in (field, "__name__"):
        order = structured.order_by.add()
        order.field.field_path = path
        order.direction = direction
    if after is not None:
        key, name = after
        structured.start_at.values.add().bytes_value = key
        structured.start_at.values.add().reference_value = name
        structured.start_at.before = False
    structured.limit.value = limit
    return structured


async def run_query(transport: Transport, conn: Connection, structured: Any) -> list[Any]:
    """The documents (raw protobufs) ``structured`` selects: one retried ``RunQuery``."""
    request = _RunQueryRequest(parent=conn.documents_path)
    request.structured_query.CopyFrom(structured)
    wrapped = types.RunQueryRequest.wrap(request)
    timeout = transport.timeout

    async def call() -> list[Any]:
        stream = await conn.client.run_query(
            request=wrapped, retry=None, timeout=timeout, metadata=conn.metadata
        )
        documents = []
        async for response in stream:
            raw = types.RunQueryResponse.pb(response)
            if raw.HasField("document"):
                documents.append(raw.document)
        return documents

    return await transport.call("query", call)
