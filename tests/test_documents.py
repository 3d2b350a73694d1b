"""Unit tests of the document contract (asyncdb/_documents.py): names, ids, documents."""

from __future__ import annotations

import collections
import datetime as dt
import enum
import types
import uuid
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict, Field

from asyncdb._documents import (
    MAX_COLLECTION_NAME_LENGTH,
    MAX_DEPTH,
    MAX_DOCUMENT_BYTES,
    MAX_FIELDS,
    MAX_ID_BYTES,
    MAX_KEY_BYTES,
    MAX_PREFIX_LENGTH,
    MAX_REVISION_LENGTH,
    prepare_document,
    validate_collection_name,
    validate_document_id,
    validate_prefix,
    validate_revision,
)
from asyncdb.errors import DocumentTooLargeError, InvalidDocumentError, InvalidNameError
from asyncdb.testing.strategies import document_ids, documents

# --------------------------------------------------------------------------------------------
# collection names
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "abc",
        "a" * MAX_COLLECTION_NAME_LENGTH,
        "a-b",
        "a_b",
        "agent_data_store",
        "x09",
        "a--",
        "a__",
    ],
)
def test_valid_collection_names_are_returned(name: str) -> None:
    assert validate_collection_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        "a",
        "ab",  # 2 characters: DynamoDB needs 3
        "a" * (MAX_COLLECTION_NAME_LENGTH + 1),
        "Abc",
        "abC",
        "1abc",
        "_abc",
        "-abc",
        "_users",
        "_replicator",
        "ab c",
        "abc/def",
        "abc.def",
        "..",
        "../abc",
        "abç",
        "\uff41bc",  # fullwidth a
        "abc\n",
        "abc\x00",
        "abc$",
        "abc+",
    ],
)
def test_invalid_collection_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidNameError) as caught:
        validate_collection_name(name)
    assert caught.value.status_code == 422


@pytest.mark.parametrize("name", [None, 123, b"abc", ["abc"]])
def test_non_string_collection_names_are_refused(name: object) -> None:
    with pytest.raises(InvalidNameError, match="string"):
        validate_collection_name(name)


@given(st.from_regex(r"[a-z][a-z0-9_-]{2,63}", fullmatch=True))
def test_any_name_of_the_documented_form_is_accepted(name: str) -> None:
    assert validate_collection_name(name) == name


@given(st.text(min_size=3, max_size=64).filter(lambda s: not s.isascii() or not s.islower()))
def test_names_with_upper_case_or_non_ascii_are_refused(name: str) -> None:
    with pytest.raises(InvalidNameError):
        validate_collection_name(name)


def test_a_hostile_name_is_shown_bounded_in_the_error() -> None:
    with pytest.raises(InvalidNameError) as caught:
        validate_collection_name("X" * 10_000)
    assert len(str(caught.value)) < 300


# --------------------------------------------------------------------------------------------
# prefixes
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["", "a", "app_", "app-", "t1_", "a" * MAX_PREFIX_LENGTH])
def test_valid_prefixes(prefix: str) -> None:
    assert validate_prefix(prefix) == prefix


@pytest.mark.parametrize(
    "prefix", ["A", "App_", "1a", "_a", "-a", "a/", "a.", "a b", "a" * (MAX_PREFIX_LENGTH + 1)]
)
def test_invalid_prefixes(prefix: str) -> None:
    with pytest.raises(InvalidNameError, match="prefix"):
        validate_prefix(prefix)


@pytest.mark.parametrize("prefix", [None, 1, b"app"])
def test_non_string_prefixes(prefix: object) -> None:
    with pytest.raises(InvalidNameError, match="string"):
        validate_prefix(prefix)


# --------------------------------------------------------------------------------------------
# document ids
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "doc_id",
    [
        "a",
        "x" * MAX_ID_BYTES,
        "é" * (MAX_ID_BYTES // 2),  # 2 bytes each: exactly 4096
        "€" * 1365 + "a",  # 3 bytes each: 4095 + 1
        "😀" * (MAX_ID_BYTES // 4),  # 4 bytes each: exactly 4096
        "x" * 1025,  # the old limit
        "...",
        ".a",
        "a.",
        "a_",
        "a_b",
        "a b",
        " ",
        "a\xa0b",  # NBSP is not a control character
        "a:b",
        "a?b#c%d",
        "user@example.com",
        "ÄÖÜ",
        "日本語",
        "a\\b",
        # Portable by encoding since contract v2: drivers escape what their backend cannot hold.
        "/",
        "a/b",
        "a/",
        "/a",
        "../etc",
        "_",
        "_design",
        "_design/x",
        "_local/x",
        "__x__",
        "_all_docs",
        ".",
        "..",
    ],
)
def test_valid_document_ids(doc_id: str) -> None:
    assert validate_document_id(doc_id) == doc_id


@pytest.mark.parametrize(
    "doc_id",
    [
        "",
        "x" * (MAX_ID_BYTES + 1),
        "é" * (MAX_ID_BYTES // 2) + "a",  # 4097 bytes
        "€" * 1366,  # 4098 bytes, only 1366 characters
        "😀" * (MAX_ID_BYTES // 4 + 1),  # 4100 bytes, 1025 characters
        "\ud800",
        "a\udfff",
        "\udc00b",
    ],
)
def test_invalid_document_ids(doc_id: str) -> None:
    with pytest.raises(InvalidNameError):
        validate_document_id(doc_id)


@pytest.mark.parametrize(
    "char",
    ["\x00", "\x01", "\t", "\n", "\r", "\x1b", "\x1f", "\x7f", "\x80", "\x85", "\x9f"],
    ids=lambda c: f"U+{ord(c):04X}",
)
def test_every_control_character_class_is_refused_in_ids(char: str) -> None:
    for doc_id in (f"a{char}b", char, f"{char}a", f"a{char}"):
        with pytest.raises(InvalidNameError, match="control"):
            validate_document_id(doc_id)


@pytest.mark.parametrize("doc_id", [None, 1, 1.5, b"abc", ["a"]])
def test_non_string_ids_are_refused(doc_id: object) -> None:
    with pytest.raises(InvalidNameError, match="string"):
        validate_document_id(doc_id)


def test_an_oversized_id_is_not_echoed_in_full() -> None:
    with pytest.raises(InvalidNameError) as caught:
        validate_document_id("a/" + "x" * 50_000)
    assert len(str(caught.value)) < 300


@given(document_ids)
def test_any_valid_id_from_the_strategy_is_accepted(doc_id: str) -> None:
    assert validate_document_id(doc_id) == doc_id


_id_chars = st.characters(blacklist_categories=["Cs", "Cc"])


@given(st.text(alphabet=_id_chars, min_size=1, max_size=1500))
def test_valid_id_property(doc_id: str) -> None:
    if len(doc_id.encode()) <= MAX_ID_BYTES:
        assert validate_document_id(doc_id) == doc_id
    else:
        with pytest.raises(InvalidNameError):
            validate_document_id(doc_id)


@given(
    st.text(alphabet=_id_chars, max_size=20),
    st.sampled_from(["\x00", "\n", "\x7f", "\x9f", "\ud800"]),
    st.text(alphabet=_id_chars, max_size=20),
)
def test_a_forbidden_character_anywhere_is_refused(head: str, bad: str, tail: str) -> None:
    with pytest.raises(InvalidNameError):
        validate_document_id("a" + head + bad + tail)


# --------------------------------------------------------------------------------------------
# prepare_document: conversions
# --------------------------------------------------------------------------------------------


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Wrapped(enum.Enum):
    """Enum values that are themselves enums or containers."""

    NESTED = Colour.RED
    PAIR = (1, Level.HIGH)
    MAPPING = types.MappingProxyType({"k": Colour.BLUE})


class Strange(enum.Enum):
    BAD = frozenset({1})


class Text(str):
    pass


class Number(int):
    pass


class Real(float):
    pass


class Profile(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    user_id: str = Field(alias="userId")
    display_name: str = Field(alias="displayName")
    level: Level = Level.LOW


class Agent(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    agent_id: str = Field(alias="agentId")
    owner: Profile
    tags: tuple[str, ...] = ()


class ReadOnlyMapping(Mapping[str, Any]):
    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


def body_of(doc: object, doc_id: str = "doc") -> dict[str, Any]:
    return prepare_document(doc, doc_id).body


def test_aware_datetimes_become_utc_iso_strings() -> None:
    plus_two = dt.timezone(dt.timedelta(hours=2))
    body = body_of(
        {
            "at": dt.datetime(2024, 1, 1, 1, 30, tzinfo=plus_two),
            "utc": dt.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=dt.UTC),
        }
    )
    assert body == {
        "at": "2023-12-31T23:30:00+00:00",
        "utc": "2024-05-06T07:08:09.123456+00:00",
    }


def test_naive_datetime_date_and_time_become_iso_strings() -> None:
    body = body_of(
        {
            "naive": dt.datetime(2024, 2, 29, 12, 0, 1),
            "day": dt.date(2024, 2, 29),
            "clock": dt.time(23, 59, 58),
            "micro": dt.time(0, 0, 0, 1),
        }
    )
    assert body == {
        "naive": "2024-02-29T12:00:01",
        "day": "2024-02-29",
        "clock": "23:59:58",
        "micro": "00:00:00.000001",
    }


def test_uuid_becomes_its_canonical_string() -> None:
    value = uuid.UUID("12345678-1234-5678-1234-567812345678")
    assert body_of({"u": value, "l": [value]}) == {"u": str(value), "l": [str(value)]}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("42"), 42),
        (Decimal("42.000"), 42),
        (Decimal("-0"), 0),
        (Decimal("1E+3"), 1000),
        (Decimal(2**63 - 1), 2**63 - 1),
        (Decimal(-(2**63)), -(2**63)),
        (Decimal("1.5"), 1.5),
        (Decimal("-0.25"), -0.25),
        (Decimal("0.1"), 0.1),
    ],
)
def test_decimals_become_int_when_integral_else_float(value: Decimal, expected: Any) -> None:
    converted = body_of({"n": value})["n"]
    assert converted == expected
    assert type(converted) is type(expected)


@pytest.mark.parametrize(
    "value",
    [
        Decimal("NaN"),
        Decimal("sNaN"),
        Decimal("Infinity"),
        Decimal("-Infinity"),
        Decimal(2**63),
        Decimal(-(2**63) - 1),
        Decimal("1E+30"),
    ],
)
def test_non_finite_or_out_of_range_decimals_are_refused(value: Decimal) -> None:
    with pytest.raises(InvalidDocumentError) as caught:
        prepare_document({"n": value}, "doc")
    assert caught.value.path == "$.n"


class HugeDecimal(Decimal):
    """A Decimal that fails the test if it is materialised as a (gigantic) int."""

    def __int__(self) -> int:
        raise AssertionError("a 1,000,001-digit integer was materialised")


def test_a_decimal_with_a_huge_exponent_is_refused_without_building_the_int() -> None:
    with pytest.raises(InvalidDocumentError, match="range"):
        prepare_document({"n": HugeDecimal("1E+1000000")}, "doc")


def test_a_decimal_below_the_portable_range_is_refused_not_zeroed() -> None:
    with pytest.raises(InvalidDocumentError):
        prepare_document({"n": Decimal("1E-400")}, "doc")


def test_enums_become_their_values() -> None:
    body = body_of({"colour": Colour.RED, "level": Level.HIGH, "many": [Colour.BLUE, Level.LOW]})
    assert body == {"colour": "red", "level": 2, "many": ["blue", 1]}
    assert type(body["level"]) is int
    assert type(body["many"][1]) is int
    assert type(body["colour"]) is str


def test_nested_enum_values_are_converted_all_the_way() -> None:
    body = body_of({"n": Wrapped.NESTED, "p": Wrapped.PAIR, "m": Wrapped.MAPPING})
    assert body == {"n": "red", "p": [1, 2], "m": {"k": "blue"}}
    assert type(body["p"][1]) is int
    assert type(body["m"]) is dict


def test_an_enum_whose_value_is_not_json_is_refused_with_its_path() -> None:
    with pytest.raises(InvalidDocumentError) as caught:
        prepare_document({"a": [Strange.BAD]}, "doc")
    assert caught.value.path == "$.a[0]"


def test_scalar_subclasses_become_plain_types() -> None:
    body = body_of({"s": Text("x"), "i": Number(3), "f": Real(1.5), "l": [Text("é")]})
    assert body == {"s": "x", "i": 3, "f": 1.5, "l": ["é"]}
    assert [type(body[k]) for k in ("s", "i", "f")] == [str, int, float]
    assert type(body["l"][0]) is str


def test_a_pydantic_model_is_dumped_by_alias() -> None:
    model = Profile(user_id="u1", display_name="Ann", level=Level.HIGH)
    prepared = prepare_document(model, "doc")
    assert prepared.body == {"userId": "u1", "displayName": "Ann", "level": 2}
    assert prepared.rev is None


def test_nested_pydantic_models_are_dumped_by_alias() -> None:
    agent = Agent(agent_id="a1", owner=Profile(user_id="u", display_name="U"), tags=("x", "y"))
    body = body_of({"agent": agent, "list": [agent.owner]})
    assert body == {
        "agent": {
            "agentId": "a1",
            "owner": {"userId": "u", "displayName": "U", "level": 1},
            "tags": ["x", "y"],
        },
        "list": [{"userId": "u", "displayName": "U", "level": 1}],
    }


def test_a_pydantic_model_carrying_id_and_rev() -> None:
    class Stored(BaseModel):
        id: str = Field(alias="_id")
        rev: str | None = Field(default=None, alias="_rev")
        name: str

    prepared = prepare_document(Stored(_id="doc", _rev="3-abc", name="n"), "doc")
    assert prepared.body == {"name": "n"}
    assert prepared.rev == "3-abc"
    with pytest.raises(InvalidDocumentError):
        prepare_document(Stored(_id="other", name="n"), "doc")


def test_tuples_become_lists_at_every_level() -> None:
    body = body_of({"t": (1, (2, (3,)), [(4,)])})
    assert body == {"t": [1, [2, [3]], [[4]]]}
    assert type(body["t"]) is list
    assert type(body["t"][1][1]) is list
    assert type(body["t"][2][0]) is list


def test_dict_subclasses_and_mappings_become_plain_dicts() -> None:
    ordered = collections.OrderedDict([("b", 1), ("a", 2)])
    default = collections.defaultdict(list, {"x": [1]})
    counter = collections.Counter("aab")
    proxy = types.MappingProxyType({"p": {"q": 1}})
    custom = ReadOnlyMapping({"c": ReadOnlyMapping({"d": True})})
    body = body_of(
        {"o": ordered, "d": default, "c": counter, "p": proxy, "m": custom, "l": [custom]}
    )
    assert body == {
        "o": {"b": 1, "a": 2},
        "d": {"x": [1]},
        "c": {"a": 2, "b": 1},
        "p": {"p": {"q": 1}},
        "m": {"c": {"d": True}},
        "l": [{"c": {"d": True}}],
    }
    for key in ("o", "d", "c", "p", "m"):
        assert type(body[key]) is dict
    assert type(body["m"]["c"]) is dict
    assert type(body["l"][0]) is dict


def test_a_top_level_mapping_or_dict_subclass_is_a_document() -> None:
    assert body_of(types.MappingProxyType({"a": 1})) == {"a": 1}
    assert body_of(ReadOnlyMapping({"a": [1]})) == {"a": [1]}
    assert body_of(collections.OrderedDict(a=1)) == {"a": 1}


@pytest.mark.parametrize("doc", [[], [("a", 1)], "doc", 1, None, {"a"}, b"{}"])
def test_a_document_must_be_a_mapping(doc: object) -> None:
    with pytest.raises(InvalidDocumentError, match="JSON object"):
        prepare_document(doc, "doc")


@pytest.mark.parametrize(
    "value",
    [
        b"bytes",
        bytearray(b"x"),
        {1, 2},
        frozenset(),
        object(),
        1 + 2j,
        float("nan"),
        float("inf"),
        -float("inf"),
        1e-131,
        1e126,
        -1e200,
        2**63,
        -(2**63) - 1,
        "\ud800",
        print,
        type,
        range(3),
    ],
    ids=repr,
)
def test_non_json_values_are_refused_with_their_path(value: object) -> None:
    for doc, path in (
        ({"v": value}, "$.v"),
        ({"a": {"b": value}}, "$.a.b"),
        ({"a": [0, value]}, "$.a[1]"),
        ({"a": (0, 0, value)}, "$.a[2]"),
        ({"a": [{"b": [value]}]}, "$.a[0].b[0]"),
    ):
        with pytest.raises(InvalidDocumentError) as caught:
            prepare_document(doc, "doc")
        assert caught.value.path == path
        assert caught.value.status_code == 422
        assert str(caught.value).endswith(f" at {path}")


def test_the_numeric_boundaries_are_accepted() -> None:
    body = body_of({"imax": 2**63 - 1, "imin": -(2**63), "small": 1e-130, "big": 9.99e125})
    assert body == {"imax": 2**63 - 1, "imin": -(2**63), "small": 1e-130, "big": 9.99e125}
    assert body_of({"z": 0.0, "nz": -0.0}) == {"z": 0.0, "nz": -0.0}


# --------------------------------------------------------------------------------------------
# prepare_document: paths in errors
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    ["c d", "1st", "a.b", "a-b", "it's", 'say "hi"', "é", "$", "a[0]"],
)
def test_keys_that_need_quoting_are_quoted_in_the_path(key: str) -> None:
    with pytest.raises(InvalidDocumentError) as caught:
        prepare_document({"a": {"b": [0, {key: {1, 2}}]}}, "doc")
    assert caught.value.path == f"$.a.b[1][{key!r}]"


def test_a_bad_value_under_a_top_level_key_that_needs_quoting() -> None:
    with pytest.raises(InvalidDocumentError) as caught:
        prepare_document({"odd key": [[{"x": None, "y": object()}]]}, "doc")
    assert caught.value.path == "$['odd key'][0][0].y"


def test_plain_keys_are_not_quoted() -> None:
    with pytest.raises(InvalidDocumentError) as caught:
        prepare_document({"Abc_9": {"_x": {"k2": b""}}}, "doc")
    assert caught.value.path == "$.Abc_9._x.k2"


# --------------------------------------------------------------------------------------------
# prepare_document: size
# --------------------------------------------------------------------------------------------


def _blob_size(text: str, doc_id: str = "d") -> int:
    return prepare_document({"blob": text}, doc_id).size


def test_the_size_measure_grows_with_utf8_bytes() -> None:
    base = _blob_size("")
    assert _blob_size("x" * 10) == base + 10
    assert _blob_size("é" * 10) == base + 20
    assert _blob_size("😀") == base + 4
    assert _blob_size("", doc_id="d" * 11) == base + 10
    assert _blob_size("", doc_id="é") == base + 1
    # bool and None are cheaper than numbers; a number is the same whatever its value
    assert prepare_document({"n": 1}, "d").size == prepare_document({"n": 2**62}, "d").size
    assert prepare_document({"n": True}, "d").size < prepare_document({"n": 1}, "d").size
    assert prepare_document({"n": None}, "d").size == prepare_document({"n": False}, "d").size


def test_exactly_the_size_limit_is_accepted_and_one_byte_more_refused() -> None:
    room = MAX_DOCUMENT_BYTES - _blob_size("")
    prepared = prepare_document({"blob": "x" * room}, "d")
    assert prepared.size == MAX_DOCUMENT_BYTES
    with pytest.raises(DocumentTooLargeError) as caught:
        prepare_document({"blob": "x" * (room + 1)}, "d")
    assert caught.value.status_code == 413
    assert str(MAX_DOCUMENT_BYTES) in str(caught.value)


def test_the_size_limit_with_multi_byte_text() -> None:
    room = MAX_DOCUMENT_BYTES - _blob_size("")
    text = "é" * (room // 2) + "x" * (room % 2)
    assert prepare_document({"blob": text}, "d").size == MAX_DOCUMENT_BYTES
    with pytest.raises(DocumentTooLargeError):
        prepare_document({"blob": text + "x"}, "d")
    with pytest.raises(DocumentTooLargeError):
        prepare_document({"blob": "é" * (room // 2 + 1)}, "d")


def test_the_id_counts_towards_the_size_limit() -> None:
    room = MAX_DOCUMENT_BYTES - _blob_size("")
    prepare_document({"blob": "x" * room}, "d")
    with pytest.raises(DocumentTooLargeError):
        prepare_document({"blob": "x" * room}, "dd")


def test_a_longest_id_counts_with_all_its_bytes() -> None:
    # A driver may store a long id twice (a digest key and the original): the measure
    # must count the id's bytes so that the document still fits every backend.
    long_id = "😀" * (MAX_ID_BYTES // 4)
    assert _blob_size("", doc_id=long_id) - _blob_size("", doc_id="d") == MAX_ID_BYTES - 1
    room = MAX_DOCUMENT_BYTES - _blob_size("", doc_id=long_id)
    assert prepare_document({"blob": "x" * room}, long_id).size == MAX_DOCUMENT_BYTES
    with pytest.raises(DocumentTooLargeError):
        prepare_document({"blob": "x" * (room + 1)}, long_id)


def test_max_bytes_none_leaves_the_size_to_the_caller() -> None:
    body = {"blob": "x" * MAX_DOCUMENT_BYTES}
    prepared = prepare_document(body, "d", max_bytes=None)
    assert prepared.body == body and prepared.size > MAX_DOCUMENT_BYTES
    with pytest.raises(DocumentTooLargeError, match="limit is 10"):
        prepare_document({"a": 1}, "d", max_bytes=10)


def test_many_small_values_count_too() -> None:
    per_item = prepare_document({"l": [1, 1]}, "d").size - prepare_document({"l": [1]}, "d").size
    assert per_item > 0
    count = MAX_DOCUMENT_BYTES // per_item + 1
    with pytest.raises(DocumentTooLargeError):
        prepare_document({"l": [1] * count}, "d")


# --------------------------------------------------------------------------------------------
# prepare_document: depth, fields, keys
# --------------------------------------------------------------------------------------------


def _maps(levels: int) -> Any:
    """``levels`` nested dicts: {"k": {"k": ... {"leaf": 1}}}."""
    value: Any = {"leaf": 1}
    for _ in range(levels - 1):
        value = {"k": value}
    return value


def _lists(levels: int, kind: type = list) -> Any:
    value: Any = kind([1])
    for _ in range(levels - 1):
        value = kind([value])
    return value


def test_the_depth_limit_is_32_levels() -> None:
    # The original application nests 20 levels; the old limit of 16 refused it.
    assert MAX_DEPTH == 32
    assert body_of({"deep": _maps(20)}) == {"deep": _maps(20)}
    assert body_of({"deep": _lists(32)}) == {"deep": _lists(32)}


def test_maps_nested_exactly_max_depth_are_accepted() -> None:
    doc = {"deep": _maps(MAX_DEPTH)}
    assert body_of(doc) == doc


def test_maps_nested_one_deeper_are_refused() -> None:
    with pytest.raises(InvalidDocumentError, match="deeper") as caught:
        prepare_document({"deep": _maps(MAX_DEPTH + 1)}, "doc")
    assert caught.value.path == "$.deep" + ".k" * MAX_DEPTH


def test_lists_nested_exactly_max_depth_are_accepted() -> None:
    doc = {"deep": _lists(MAX_DEPTH)}
    assert body_of(doc) == doc


def test_lists_nested_one_deeper_are_refused() -> None:
    with pytest.raises(InvalidDocumentError, match="deeper") as caught:
        prepare_document({"deep": _lists(MAX_DEPTH + 1)}, "doc")
    assert caught.value.path == "$.deep" + "[0]" * MAX_DEPTH


def test_converted_containers_count_the_same_depth() -> None:
    assert body_of({"t": _lists(MAX_DEPTH, tuple)}) == {"t": _lists(MAX_DEPTH)}
    with pytest.raises(InvalidDocumentError, match="deeper"):
        prepare_document({"t": _lists(MAX_DEPTH + 1, tuple)}, "doc")
    chain: Any = types.MappingProxyType({"leaf": 1})
    for _ in range(MAX_DEPTH - 1):
        chain = types.MappingProxyType({"k": chain})
    assert body_of({"m": chain}) == {"m": _maps(MAX_DEPTH)}
    with pytest.raises(InvalidDocumentError, match="deeper"):
        prepare_document({"m": types.MappingProxyType({"k": chain})}, "doc")


def test_empty_containers_one_level_too_deep_are_refused() -> None:
    too_deep: Any = {}
    for _ in range(MAX_DEPTH):
        too_deep = [too_deep]
    with pytest.raises(InvalidDocumentError, match="deeper"):
        prepare_document({"x": too_deep}, "doc")


def test_a_self_referencing_document_is_refused_not_a_recursion_error() -> None:
    loop: dict[str, Any] = {}
    loop["self"] = loop
    with pytest.raises(InvalidDocumentError, match="deeper"):
        prepare_document({"a": loop}, "doc")
    items: list[Any] = []
    items.append(items)
    with pytest.raises(InvalidDocumentError, match="deeper"):
        prepare_document({"a": items}, "doc")


def test_exactly_max_fields_are_accepted_and_one_more_refused() -> None:
    doc = {f"k{i:05d}": None for i in range(MAX_FIELDS)}
    assert len(body_of(doc)) == MAX_FIELDS
    doc["extra"] = None
    with pytest.raises(InvalidDocumentError, match="fields"):
        prepare_document(doc, "doc")


def test_fields_are_counted_at_every_depth() -> None:
    inner = {f"k{i:05d}": None for i in range(MAX_FIELDS - 1)}
    body_of({"a": inner})  # 1 + (MAX_FIELDS - 1)
    inner["extra"] = None
    with pytest.raises(InvalidDocumentError, match="fields"):
        prepare_document({"a": inner}, "doc")
    half = {f"k{i:05d}": None for i in range(MAX_FIELDS // 2)}
    with pytest.raises(InvalidDocumentError, match="fields"):
        prepare_document({"l": [half, half, {"one": 1}]}, "doc")


@pytest.mark.parametrize(
    ("ok_key", "bad_key"),
    [
        ("k" * MAX_KEY_BYTES, "k" * (MAX_KEY_BYTES + 1)),
        ("é" * (MAX_KEY_BYTES // 2), "é" * (MAX_KEY_BYTES // 2) + "k"),
        ("😀" * (MAX_KEY_BYTES // 4), "😀" * (MAX_KEY_BYTES // 4) + "k"),
    ],
    ids=["ascii", "two-byte", "four-byte"],
)
def test_key_length_limit_in_utf8_bytes(ok_key: str, bad_key: str) -> None:
    assert len(ok_key.encode()) == MAX_KEY_BYTES
    assert len(bad_key.encode()) > MAX_KEY_BYTES
    assert body_of({ok_key: 1, "n": {ok_key: [1]}}) == {ok_key: 1, "n": {ok_key: [1]}}
    with pytest.raises(InvalidDocumentError, match="limit"):
        prepare_document({bad_key: 1}, "doc")
    with pytest.raises(InvalidDocumentError, match="limit") as caught:
        prepare_document({"n": [{bad_key: 1}]}, "doc")
    assert caught.value.path.startswith("$.n[0]")


@pytest.mark.parametrize("key", ["__x__", "____", "__name__", "__a b__", "__\n__", "__init__"])
def test_double_underscore_keys_are_allowed_when_nested(key: str) -> None:
    for doc in ({"a": {key: 1}}, {"a": [{key: 1}]}, {"a": {"b": {"c": {key: [key]}}}}):
        assert body_of(doc) == doc


@pytest.mark.parametrize("key", ["__x__", "__init__", "____"])
def test_double_underscore_keys_stay_reserved_at_top_level(key: str) -> None:
    with pytest.raises(InvalidDocumentError, match="_id and _rev"):
        prepare_document({key: 1}, "doc")


def test_the_empty_key_is_allowed_at_every_depth() -> None:
    doc = {"": 1, "a": {"": {"": [{"": None}]}}}
    assert body_of(doc) == doc
    # It counts two bytes of the measure, like any key.
    assert prepare_document({"": 1}, "d").size - prepare_document({}, "d").size == 2 + 12


@pytest.mark.parametrize("key", ["_x", "_", "__", "___", "__x", "x__", "_x_", "_rev", "_id"])
def test_underscore_keys_are_allowed_when_nested(key: str) -> None:
    doc = {"a": {key: 1}, "l": [{key: [key]}]}
    assert body_of(doc) == doc


@pytest.mark.parametrize("key", ["_x", "_", "__", "___", "_attachments", "_deleted"])
def test_underscore_keys_are_refused_at_top_level(key: str) -> None:
    with pytest.raises(InvalidDocumentError, match="_id and _rev") as caught:
        prepare_document({key: 1}, "doc")
    assert caught.value.path.startswith("$")


@pytest.mark.parametrize("key", [1, None, 1.5, (1,), b"k"], ids=repr)
def test_keys_must_be_strings_at_any_depth(key: Any) -> None:
    for doc in ({key: 1}, {"a": {key: 1}}, {"a": [{key: 1}]}):
        with pytest.raises(InvalidDocumentError):
            prepare_document(doc, "doc")


def test_keys_with_unpaired_surrogates_are_refused() -> None:
    for doc in ({"\ud800": 1}, {"a": {"x\udfff": 1}}):
        with pytest.raises(InvalidDocumentError, match="unicode"):
            prepare_document(doc, "doc")


def test_strings_with_unpaired_surrogates_are_refused() -> None:
    with pytest.raises(InvalidDocumentError, match="surrogate") as caught:
        prepare_document({"a": ["ok", "é\ud83d"]}, "doc")
    assert caught.value.path == "$.a[1]"


# --------------------------------------------------------------------------------------------
# prepare_document: _id and _rev
# --------------------------------------------------------------------------------------------


def test_id_matching_the_document_id_is_dropped_from_the_body() -> None:
    prepared = prepare_document({"_id": "doc", "a": 1}, "doc")
    assert prepared.body == {"a": 1}
    assert prepared.rev is None


@pytest.mark.parametrize("value", ["other", "Doc", "doc ", "", None, 1, ["doc"]])
def test_id_mismatch_is_refused(value: object) -> None:
    with pytest.raises(InvalidDocumentError, match="does not match") as caught:
        prepare_document({"_id": value, "a": 1}, "doc")
    assert caught.value.path == "$._id"


def test_rev_is_returned_apart_from_the_body() -> None:
    prepared = prepare_document({"_rev": "2-abc", "a": 1}, "doc")
    assert prepared.body == {"a": 1}
    assert prepared.rev == "2-abc"


@pytest.mark.parametrize("value", [None, ""])
def test_rev_none_or_empty_means_no_revision(value: object) -> None:
    prepared = prepare_document({"_rev": value, "a": 1}, "doc")
    assert prepared.rev is None
    assert prepared.body == {"a": 1}


@pytest.mark.parametrize(
    "value",
    [1, 0, True, False, 1.5, ["1-a"], {"r": 1}, b"1-a", " ", "1 a", "é", "\x00", "a\x7f"],
)
def test_rev_must_be_a_well_formed_string(value: object) -> None:
    with pytest.raises(InvalidDocumentError, match="malformed revision") as caught:
        prepare_document({"_rev": value}, "doc")
    assert caught.value.path == "$._rev"


@pytest.mark.parametrize("rev", ["!", "~" * MAX_REVISION_LENGTH, "1-abc", "0", "a" * 100])
def test_well_formed_revisions_are_accepted(rev: str) -> None:
    assert validate_revision(rev) == rev
    assert prepare_document({"_rev": rev}, "doc").rev == rev


def test_a_huge_revision_is_refused_quickly_and_not_echoed() -> None:
    with pytest.raises(InvalidDocumentError) as caught:
        validate_revision("1-" + "b" * 2_000_000, "rev")
    assert len(str(caught.value)) < 300 and caught.value.path == "rev"
    with pytest.raises(InvalidDocumentError):
        validate_revision("x" * (MAX_REVISION_LENGTH + 1))


@given(st.text(max_size=300))
def test_revision_shape_property(rev: str) -> None:
    shaped = 1 <= len(rev) <= MAX_REVISION_LENGTH and all("!" <= c <= "~" for c in rev)
    if shaped:
        assert validate_revision(rev) == rev
    else:
        with pytest.raises(InvalidDocumentError):
            validate_revision(rev)


# --------------------------------------------------------------------------------------------
# prepare_document: copying, bool vs int, idempotence
# --------------------------------------------------------------------------------------------


def test_the_body_is_a_deep_copy() -> None:
    inner: dict[str, Any] = {"list": [1, {"x": "y"}], "map": {"k": [True]}}
    doc: dict[str, Any] = {"a": inner, "top": [inner["list"]]}
    body = body_of(doc)
    expected = {
        "a": {"list": [1, {"x": "y"}], "map": {"k": [True]}},
        "top": [[1, {"x": "y"}]],
    }
    assert body == expected
    inner["list"].append(2)
    inner["list"][1]["x"] = "changed"
    inner["map"]["k"].clear()
    inner["new"] = 1
    doc["top"].append(3)
    doc["added"] = 1
    assert body == expected
    assert body["a"] is not inner
    assert body["top"] is not doc["top"]


def test_the_input_is_not_modified() -> None:
    doc = {"_id": "doc", "_rev": "1-a", "t": (1, 2), "e": Colour.RED, "d": dt.date(2024, 1, 1)}
    snapshot = dict(doc)
    prepare_document(doc, "doc")
    assert doc == snapshot


def test_bool_is_not_treated_as_int() -> None:
    body = body_of({"t": True, "f": False, "l": [True, 1, False, 0], "m": {"b": True}})
    assert body == {"t": True, "f": False, "l": [True, 1, False, 0], "m": {"b": True}}
    assert body["t"] is True
    assert body["f"] is False
    assert [type(x) for x in body["l"]] == [bool, int, bool, int]
    assert body["m"]["b"] is True


def test_bool_enum_values_stay_bool() -> None:
    class Flag(enum.Enum):
        ON = True

    assert body_of({"f": Flag.ON})["f"] is True


_convertible = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**63), max_value=2**63 - 1),
        st.text(max_size=10),
        st.uuids(),
        st.dates(),
        st.datetimes(timezones=st.none() | st.timezones()),
        st.times(),
        st.decimals(allow_nan=False, allow_infinity=False, places=3, max_value=10**12),
        st.sampled_from(list(Colour) + list(Level)),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.lists(children, max_size=4).map(tuple),
        st.dictionaries(st.text(min_size=1, max_size=5).map(lambda k: "k" + k), children),
    ),
    max_leaves=15,
)


@given(documents)
def test_prepare_is_idempotent_on_valid_documents(doc: dict[str, Any]) -> None:
    first = prepare_document(doc, "doc")
    assert first.body == doc
    second = prepare_document(first.body, "doc")
    assert second.body == first.body
    assert second.size == first.size


@given(st.dictionaries(st.text(min_size=1, max_size=5).map(lambda k: "k" + k), _convertible))
def test_prepare_is_idempotent_on_its_own_output(doc: dict[str, Any]) -> None:
    first = prepare_document(doc, "doc")
    second = prepare_document(first.body, "doc")
    assert second.body == first.body
    assert second.size == first.size
    assert _plain_json(first.body)


def _plain_json(value: Any) -> bool:
    if type(value) is dict:
        return all(type(k) is str and _plain_json(v) for k, v in value.items())
    if type(value) is list:
        return all(_plain_json(v) for v in value)
    return value is None or type(value) in (bool, int, float, str)
