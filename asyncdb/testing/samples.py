"""Inputs every backend must refuse, and odd inputs every backend must store exactly."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any, Final

__all__ = [
    "HOSTILE_COLLECTION_NAMES",
    "HOSTILE_DOCUMENT_IDS",
    "INVALID_VALUES",
    "ODD_VALID_IDS",
    "ODD_VALID_KEYS",
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

#: Document ids that could address another document, database or path.
HOSTILE_DOCUMENT_IDS: Final[list[Any]] = [
    "",
    ".",
    "..",
    "../x",
    "a/b",
    "/abs",
    "_design/x",
    "_local/x",
    "_users",
    "_all_docs",
    "__name__",
    "__x__",
    "a\x00b",
    "\x00",
    "tab\there",
    "new\nline",
    "del\x7f",
    "\ud800",
    "x" * 1025,
    "é" * 513,
    None,
    7,
    3.5,
    b"bytes",
    ("a",),
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
    ({"": 1}, "empty key"),
    ({"__reserved__": 1}, "Firestore-reserved key"),
    (complex(1, 2), "complex"),
]
