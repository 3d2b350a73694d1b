"""Inputs every backend must refuse, and odd inputs every backend must store exactly."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any, Final

__all__ = [
    "HOSTILE_COLLECTION_NAMES",
    "HOSTILE_DOCUMENT_IDS",
    "INVALID_VALUES",
    "LOOKALIKE_ID_GROUPS",
    "ODD_VALID_IDS",
    "ODD_VALID_KEYS",
    "PORTABLE_IDS",
]

#: Collection names that could escape the collection or break a backend.
HOSTILE_COLLECTION_NAMES: Final[list[Any]] = [
    "",
    "ab",
    "../x",
    "..",
    ".",
    "a/b",
    "items/../_users",
    "_users",
    "_replicator",
    "_global_changes",
    "_design",
    "_all_dbs",
    "Items",
    "ITEMS",
    "1items",
    "-items",
    "items?x=1",
    "items#x",
    "items%2F",
    "item s",
    "items\x00",
    "items\n",
    "itéms",
    "x" * 65,
    None,
    42,
    b"items",
    ["items"],
]

#: Document ids the contract refuses: not strings, empty, control characters, unpaired
#: surrogates, more than 4,096 UTF-8 bytes.
HOSTILE_DOCUMENT_IDS: Final[list[Any]] = [
    "",
    "a\x00b",
    "\x00",
    "tab\there",
    "new\nline",
    "del\x7f",
    "c1\x85control",
    "\x9f",
    "\ud800",
    "lone\udfffsurrogate",
    "x" * 4097,
    "é" * 2049,
    "😀" * 1024 + "a",
    None,
    7,
    3.5,
    b"bytes",
    ("a",),
]

#: Ids the contract allows that some backend cannot hold as a key: each driver encodes
#: them (docs/contract.md); every one must round-trip exactly and never alias another.
PORTABLE_IDS: Final[list[str]] = [
    "_leading",
    "_",
    "__",
    "_design/x",
    "_local/x",
    "_users",
    "_all_docs",
    "_changes",
    "/",
    "//",
    "/abs",
    "trailing/",
    "a/b/c",
    "../x",
    "a/../b",
    ".",
    "..",
    "./.",
    "__x__",
    "__name__",
    "__init__",
    "~x",
    "~",
    "~~",
    "~_x",
    "%2F",
    "%5Fx",
    "a%2Fb",
    "%2E",
    "%2E%2E",
    "日本/語",
    "ünï/cödé",
    "🎉/🧪",
    "a" * 1500,
    "é" * 750,
    "a" * 2049,
    "é" * 1024 + "a",
    "a" * 4096,
    "é" * 2048,
    "😀" * 1024,
    "_" + "/" * 4095,
    "__" + "x" * 4092 + "__",
]

#: Unusual but valid ids: each must be stored and read back exactly.
ODD_VALID_IDS: Final[list[str]] = [
    "with space",
    " leading-and-trailing ",
    "question?mark",
    "hash#tag",
    "plus+sign",
    "amp&ersand",
    "percent%2Fencoded",
    "percent%",
    "semi;colon",
    "equals=sign",
    "back\\slash",
    "quote'and\"double",
    "colon:user:namespace:a2V5",
    "dot.in.middle",
    "...",
    "ünïcödé",
    "日本語のID",
    "emoji-🎉",
    "a" * 1024,
    "-",
    "0",
    "~tilde",
    "[brackets]{braces}",
    "<angle>",
    "*star*",
    "$dollar",
]

#: Keys that every backend must keep literally (dots are not paths, $ is not an operator).
ODD_VALID_KEYS: Final[list[str]] = [
    "dot.ted",
    "a.b.c",
    "$dollar",
    "spa ce",
    "back`tick",
    "ünï",
    "🎉",
    "_nested_underscore",
    "__half",
    "half__",
    "1",
    "-",
    "[0]",
    "",
    "__init__",
    "__x__",
    "__",
    "____",
    "__.__",
    "__name__",
    "~",
    "%2E",
]

#: Groups of distinct ids that a naive escape scheme or a truncating digest could map to
#: one key: every id of a group must be stored as its own document.
LOOKALIKE_ID_GROUPS: Final[list[list[str]]] = [
    ["x", "_x", "~x", "~_x", "~~x", "%5Fx", "__x", "_~x"],
    ["/", "%2F", "~2F", "~/", "_/", "%252F"],
    ["a/b", "a%2Fb", "a~2Fb", "a~b", "a_b"],
    [".", "..", "%2E", "%2E%2E", "~.", "_.", "..."],
    ["__x__", "~__x__", "_x__", "__x_", "%5F%5Fx%5F%5F"],
    ["a" * 4096, "a" * 4095 + "b", "b" + "a" * 4095, "a" * 4095],
    ["a" * 2048, "a" * 2049, "a" * 2050, "a" * 2047],
    ["é" * 750, "é" * 749 + "e", "é" * 751, "_" + "é" * 749],
]


#: (value, why) pairs the contract refuses wherever they appear in a document.
INVALID_VALUES: Final[list[tuple[Any, str]]] = [
    (math.nan, "NaN"),
    (math.inf, "infinity"),
    (-math.inf, "negative infinity"),
    (2**63, "integer above int64"),
    (-(2**63) - 1, "integer below int64"),
    (1e200, "float above DynamoDB's range"),
    (1e-200, "float below DynamoDB's range"),
    ({1, 2}, "set"),
    (b"bytes", "bytes"),
    (object(), "object"),
    (Decimal("NaN"), "Decimal NaN"),
    ("\ud800", "unpaired surrogate"),
    ({1: "x"}, "non-string key"),
    ({"\udc00": 1}, "key with an unpaired surrogate"),
    ({"k" * 1501: 1}, "key over 1,500 bytes"),
    (complex(1, 2), "complex"),
]
