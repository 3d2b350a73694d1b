"""Unit tests of the query language, pagination cursors, bulk results and the errors."""

from __future__ import annotations

import base64
import contextlib
import inspect
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import asyncdb
from asyncdb import errors
from asyncdb._cursor import decode_cursor, encode_cursor
from asyncdb._query import MAX_IN_VALUES, Condition, Query, json_equal, parse_query
from asyncdb._results import BulkResult, Page
from asyncdb._service import DatabaseService
from asyncdb.drivers.base import WriteOutcome
from asyncdb.drivers.memory import MemoryDriver
from asyncdb.errors import (
    AsyncDBError,
    ConflictError,
    InvalidCursorError,
    InvalidDocumentError,
    InvalidQueryError,
    NotFoundError,
)
from asyncdb.testing.strategies import document_ids

# --------------------------------------------------------------------------------------------
# json_equal and Query.matches
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stored", "wanted", "equal"),
    [
        (True, True, True),
        (False, False, True),
        (1, True, False),
        (True, 1, False),
        (0, False, False),
        (False, 0, False),
        (1.0, True, False),
        (1, 1, True),
        (1, 1.0, True),  # JSON numbers compare by value
        (1.0, 1, True),
        (2**53, float(2**53), True),
        (1, 2, False),
        ("1", 1, False),
        (1, "1", False),
        ("a", "a", True),
        ("a", "A", False),
        (None, None, True),
        (None, False, False),
        (False, None, False),
        (0, None, False),
        ("", None, False),
        (None, "", False),
        (None, 0, False),
        ([1], 1, False),
        ({"a": 1}, "a", False),
        ([], None, False),
    ],
)
def test_json_equal(stored: Any, wanted: Any, equal: bool) -> None:
    assert json_equal(stored, wanted) is equal


def test_none_matches_a_stored_null_but_not_a_missing_field() -> None:
    query = parse_query({"a": None})
    assert query.matches({"a": None})
    assert not query.matches({})
    assert not query.matches({"b": None})
    assert not query.matches({"a": False})


def test_every_condition_must_hold() -> None:
    query = parse_query({"user": "u1", "ns": "x"})
    assert query.matches({"user": "u1", "ns": "x", "other": 1})
    assert not query.matches({"user": "u1", "ns": "y"})
    assert not query.matches({"user": "u1"})
    assert parse_query({}).matches({})
    assert parse_query({}).matches({"anything": 1})


def test_in_matches_any_listed_value_type_strictly() -> None:
    query = parse_query({"n": {"$in": [1, "two", None]}})
    assert query.conditions == (Condition("n", (1, "two", None), "$in"),)
    assert query.matches({"n": 1})
    assert query.matches({"n": 1.0})
    assert query.matches({"n": "two"})
    assert query.matches({"n": None})
    assert not query.matches({"n": True})
    assert not query.matches({"n": 2})
    assert not query.matches({})
    bools = parse_query({"b": {"$in": (True,)}})
    assert bools.matches({"b": True})
    assert not bools.matches({"b": 1})


def test_eq_is_the_same_as_a_plain_value() -> None:
    assert parse_query({"a": {"$eq": 5}}) == parse_query({"a": 5})
    assert parse_query({"a": {"$eq": None}}).conditions[0].values == (None,)


def test_values_are_compared_on_top_level_fields_only() -> None:
    query = parse_query({"a": 1})
    assert not query.matches({"x": {"a": 1}})
    assert not query.matches({"a": [1]})


# --------------------------------------------------------------------------------------------
# parse_query refusals
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "where",
    [
        None,
        [("a", 1)],
        "a=1",
        {"a": {"$gt": True}},  # ranges compare numbers or strings only
        {"a": {"$ne": [1]}},  # query values are scalars
        {"a": {"$regex": "x"}},
        {"a": {"eq": 1}},
        {"a": {"$eq": 1, "$in": [1]}},
        {"a": {}},
        {"a": {"$in": []}},
        {"a": {"$in": "abc"}},
        {"a": {"$in": None}},
        {"a": {"$in": {"x": 1}}},
        {"a": {"$in": list(range(MAX_IN_VALUES + 1))}},
        {"a": {"$in": [1]}, "b": {"$in": [2]}},
        {"a": [1, 2]},
        {"a": {"$eq": [1]}},
        {"a": {"$eq": {"b": 1}}},
        {"a": {"$in": [[1]]}},
        {"a": float("nan")},
        {"a": float("inf")},
        {"a": {"$in": [-float("inf")]}},
        {"a": b"bytes"},
        {"a": object()},
        {"_id": "x"},
        {"_rev": "1-a"},
        {"_private": 1},
        {"": 1},
        {1: 1},
        {None: 1},
        {f"f{i}": i for i in range(11)},
    ],
    ids=repr,
)
def test_bad_queries_are_refused(where: Any) -> None:
    with pytest.raises(InvalidQueryError) as caught:
        parse_query(where)
    assert caught.value.status_code == 422


def test_exactly_max_in_values_are_accepted() -> None:
    values = list(range(MAX_IN_VALUES))
    query = parse_query({"a": {"$in": values}})
    assert query.conditions[0].values == tuple(values)


def test_ten_conditions_are_accepted() -> None:
    query = parse_query({f"f{i}": i for i in range(10)})
    assert len(query.conditions) == 10


def test_one_in_with_equalities_is_accepted() -> None:
    query = parse_query({"a": {"$in": [1, 2]}, "b": 3, "c": {"$eq": "x"}})
    assert [c.operator for c in query.conditions] == ["$in", "$eq", "$eq"]


# --------------------------------------------------------------------------------------------
# projections
# --------------------------------------------------------------------------------------------


def test_projection_keeps_order_and_drops_duplicates() -> None:
    query = parse_query({}, ["b", "a", "b", "c", "a"])
    assert query.fields == ("b", "a", "c")
    assert query.project({"a": 1, "b": 2, "d": 4}) == {"b": 2, "a": 1}


def test_no_projection_returns_a_copy_of_everything() -> None:
    query = parse_query({})
    assert query.fields is None
    body = {"a": 1, "b": [2]}
    projected = query.project(body)
    assert projected == body
    assert projected is not body


def test_an_empty_projection_keeps_nothing() -> None:
    query = parse_query({}, [])
    assert query.fields == ()
    assert query.project({"a": 1}) == {}


def test_projection_accepts_a_tuple() -> None:
    assert parse_query({}, ("x", "y")).fields == ("x", "y")


@pytest.mark.parametrize(
    "fields",
    ["name", b"name", {"name"}, {"name": 1}, 5, ["_id"], ["_rev"], ["ok", "_x"], [""], [1]],
    ids=repr,
)
def test_bad_projections_are_refused(fields: Any) -> None:
    with pytest.raises(InvalidQueryError):
        parse_query({}, fields)


def test_query_is_immutable() -> None:
    query = parse_query({"a": 1}, ["a"])
    with pytest.raises(AttributeError):
        query.fields = None  # type: ignore[misc]
    assert isinstance(query, Query)


# --------------------------------------------------------------------------------------------
# cursors
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "doc_id",
    [
        "a",
        "a b",
        "é",
        "日本語",
        "😀x",
        "'\"\\",
        "=",
        "a=b&c",
        "+-",
        "x" * 1024,
        '"' * 1024,
        "€" * 341 + "a",
        "...",
        "a\u2028b",
    ],
)
def test_cursor_round_trip_for_odd_ids(doc_id: str) -> None:
    cursor = encode_cursor("items", doc_id)
    assert isinstance(cursor, str)
    assert "=" not in cursor
    assert set(cursor) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert decode_cursor("items", cursor) == doc_id


@given(document_ids, st.from_regex(r"[a-z][a-z0-9_-]{2,63}", fullmatch=True))
def test_cursor_round_trip_property(doc_id: str, collection: str) -> None:
    assert decode_cursor(collection, encode_cursor(collection, doc_id)) == doc_id


@pytest.mark.parametrize("doc_id", ["é" * 512, "😀" * 256], ids=["two-byte", "astral"])
def test_a_cursor_for_any_valid_id_decodes(doc_id: str) -> None:
    assert decode_cursor("abc", encode_cursor("abc", doc_id)) == doc_id


def _b64(payload: bytes) -> str:
    return base64.urlsafe_b64encode(payload).decode().rstrip("=")


def _cursor(**payload: Any) -> str:
    return _b64(json.dumps(payload).encode())


@pytest.mark.parametrize(
    "cursor",
    [
        None,
        123,
        b"abc",
        "",
        "!!!",
        "a",
        "é",
        "abc def",
        _b64(b"not json"),
        _b64(b"\xff\xfe\xfd"),
        _b64(b"[1, 2]"),
        _b64(b'"string"'),
        _b64(b"null"),
        _cursor(c="items", k="a"),
        _cursor(v=2, c="items", k="a"),
        _cursor(v="1", c="items", k="a"),
        _cursor(v=1, c="items"),
        _cursor(v=1, c="items", k=""),
        _cursor(v=1, c="items", k=5),
        _cursor(v=1, c="items", k=None),
        _cursor(v=1, c="items", k="a\x00b"),
        _cursor(v=1, c="items", k="\ud800"),
        _cursor(v=1, c="items", k="x" * 4097),
        _cursor(v=1, k="a"),
        _cursor(v=1, c="other", k="a"),
        _cursor(v=1, c="Items", k="a"),
        "A" * 12_001,
        encode_cursor("items", "a") + "A" * 12_000,
    ],
    ids=lambda c: repr(c)[:40],
)
def test_bad_cursors_are_refused(cursor: Any) -> None:
    with pytest.raises(InvalidCursorError) as caught:
        decode_cursor("items", cursor)
    assert caught.value.status_code == 400


def test_a_cursor_of_another_collection_says_so() -> None:
    with pytest.raises(InvalidCursorError, match="another collection"):
        decode_cursor("items", encode_cursor("others", "a"))


@given(st.data())
def test_tampering_with_a_cursor_never_crashes(data: st.DataObject) -> None:
    cursor = encode_cursor("items", "doc-42")
    position = data.draw(st.integers(min_value=0, max_value=len(cursor) - 1))
    replacement = data.draw(st.characters(codec="ascii"))
    tampered = cursor[:position] + replacement + cursor[position + 1 :]
    try:
        decoded = decode_cursor("items", tampered)
    except InvalidCursorError:
        return
    assert isinstance(decoded, str)


@given(st.binary(max_size=200))
def test_arbitrary_payloads_never_crash(payload: bytes) -> None:
    with contextlib.suppress(InvalidCursorError):
        decode_cursor("items", _b64(payload))


def test_a_deeply_nested_forged_cursor_is_refused() -> None:
    forged = _b64(b"[" * 1500)
    assert len(forged) <= 2048  # under the length cap: the JSON parser must refuse it
    with pytest.raises(InvalidCursorError):
        decode_cursor("items", forged)


async def test_a_deeply_nested_forged_cursor_is_a_400_through_the_face() -> None:
    async with DatabaseService(MemoryDriver()) as db:
        with pytest.raises(InvalidCursorError):
            await db.list_page("items", cursor=_b64(b"[" * 1500))


# --------------------------------------------------------------------------------------------
# bulk results and pages
# --------------------------------------------------------------------------------------------


def _result() -> tuple[BulkResult, ConflictError, InvalidDocumentError]:
    conflict = ConflictError("stale")
    invalid = InvalidDocumentError("bad", "$.x")
    outcomes = [
        WriteOutcome("a", rev="1-a"),
        WriteOutcome("b", error=conflict),
        WriteOutcome("c", rev="1-c"),
        WriteOutcome("d", error=invalid),
    ]
    return BulkResult(outcomes), conflict, invalid


def test_bulk_result_helpers() -> None:
    result, conflict, invalid = _result()
    assert not result.ok
    assert [o.id for o in result.succeeded] == ["a", "c"]
    assert [o.id for o in result.failed] == ["b", "d"]
    assert [o.error for o in result.failed] == [conflict, invalid]
    assert [o.ok for o in result] == [True, False, True, False]
    assert len(result) == 4
    assert result[0].rev == "1-a"
    assert result[-1].id == "d"
    assert [o.id for o in result] == ["a", "b", "c", "d"]
    with pytest.raises(IndexError):
        result[4]
    with pytest.raises(ConflictError) as caught:
        result.raise_for_errors()
    assert caught.value is conflict


def test_a_successful_bulk_result() -> None:
    result = BulkResult([WriteOutcome("a", rev="1"), WriteOutcome("b", rev="2")])
    assert result.ok
    assert result.failed == []
    assert len(result.succeeded) == 2
    result.raise_for_errors()


def test_an_empty_bulk_result() -> None:
    result = BulkResult()
    assert result.ok
    assert len(result) == 0
    assert list(result) == []
    result.raise_for_errors()


def test_raise_for_errors_raises_the_first_failure_in_order() -> None:
    first = NotFoundError("items", "x")
    result = BulkResult([WriteOutcome("x", error=first), WriteOutcome("y", error=ConflictError())])
    with pytest.raises(NotFoundError) as caught:
        result.raise_for_errors()
    assert caught.value is first


def test_page_defaults() -> None:
    page = Page([{"_id": "a"}])
    assert page.next_cursor is None
    assert page.items == [{"_id": "a"}]


# --------------------------------------------------------------------------------------------
# the error hierarchy
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (NotFoundError("items", "a"), 404),
        (errors.ConflictError("x"), 409),
        (errors.ValidationError("x"), 422),
        (errors.InvalidNameError("x"), 422),
        (errors.InvalidDocumentError("x"), 422),
        (errors.InvalidQueryError("x"), 422),
        (errors.DocumentTooLargeError("x"), 413),
        (errors.InvalidCursorError("x"), 400),
        (errors.BackendError("x"), 500),
        (errors.AuthenticationError("x"), 500),
        (errors.ConfigurationError("x"), 500),
        (errors.BackendUnavailableError("x"), 503),
        (errors.ServiceClosedError("x"), 503),
        (errors.SyncFacadeMisuseError("x"), 500),
        (errors.AsyncDBError("x"), 500),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, Exception) else str(v),
)
def test_status_codes(error: AsyncDBError, status: int) -> None:
    assert error.status_code == status
    assert type(error).status_code == status
    assert isinstance(error, AsyncDBError)


def test_the_hierarchy() -> None:
    assert issubclass(errors.InvalidNameError, errors.ValidationError)
    assert issubclass(errors.InvalidDocumentError, errors.ValidationError)
    assert issubclass(errors.InvalidQueryError, errors.ValidationError)
    assert issubclass(errors.AuthenticationError, errors.BackendError)
    assert issubclass(errors.BackendUnavailableError, errors.BackendError)
    assert issubclass(errors.SyncFacadeMisuseError, RuntimeError)
    assert not issubclass(errors.DocumentTooLargeError, errors.ValidationError)


def test_error_details() -> None:
    missing = NotFoundError("items", "a1")
    assert (missing.collection, missing.doc_id) == ("items", "a1")
    assert "a1" in str(missing)
    assert "items" in str(missing)
    invalid = InvalidDocumentError("bad value", "$.a[0]")
    assert invalid.path == "$.a[0]"
    assert str(invalid) == "bad value at $.a[0]"
    assert InvalidDocumentError("whole").path == "$"


_ERROR_CLASSES = sorted(
    name
    for name, value in vars(errors).items()
    if inspect.isclass(value) and issubclass(value, AsyncDBError)
)
_NOT_EXPORTED_YET = {"InvalidExportError"}


@pytest.mark.parametrize(
    "name",
    [pytest.param(name) if name in _NOT_EXPORTED_YET else name for name in _ERROR_CLASSES],
)
def test_every_error_class_is_exported_from_asyncdb(name: str) -> None:
    assert getattr(asyncdb, name, None) is getattr(errors, name)
    assert name in asyncdb.__all__


def test_the_core_error_classes_are_all_known() -> None:
    assert {
        "AsyncDBError",
        "AuthenticationError",
        "BackendError",
        "BackendUnavailableError",
        "ConfigurationError",
        "ConflictError",
        "DocumentTooLargeError",
        "InvalidCursorError",
        "InvalidDocumentError",
        "InvalidNameError",
        "InvalidQueryError",
        "NotFoundError",
        "ServiceClosedError",
        "SyncFacadeMisuseError",
        "ValidationError",
    } <= set(_ERROR_CLASSES)
